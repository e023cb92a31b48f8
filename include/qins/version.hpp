// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The library version, kept equal to project(VERSION) in CMakeLists.txt.
#pragma once

#define QINS_VERSION_MAJOR 0
#define QINS_VERSION_MINOR 1
#define QINS_VERSION_PATCH 0
/// major * 10000 + minor * 100 + patch, as fmt does.
#define QINS_VERSION (QINS_VERSION_MAJOR * 10000 + QINS_VERSION_MINOR * 100 + QINS_VERSION_PATCH)
