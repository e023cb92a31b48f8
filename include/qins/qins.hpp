// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Umbrella header: every public qins header except the llama2/ model helpers.
#pragma once

#include "calibrate.hpp"
#include "code_format.hpp"
#include "codec.hpp"
#include "config.hpp"
#include "error.hpp"
#include "float16.hpp"
#include "io.hpp"
#include "isa.hpp"
#include "linear.hpp"
#include "matrix.hpp"
#include "quantize.hpp"
#include "tensor.hpp"
#include "thread_pool.hpp"
#include "version.hpp"
