// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Umbrella header: every public qins header.
#pragma once

#include "calibrate.hpp"
#include "code_traits.hpp"
#include "codec.hpp"
#include "config.hpp"
#include "error.hpp"
#include "isa.hpp"
#include "matrix.hpp"
#include "quantize.hpp"
#include "version.hpp"
