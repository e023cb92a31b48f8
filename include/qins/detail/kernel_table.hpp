// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// KernelTable<Isa>: the kernel table of each compiled path, specialised by its header.
// IWYU pragma: private
#pragma once

#include <type_traits>

#include "../isa.hpp"

namespace qins::detail {

/// `type` is the Kernels struct of the path; defined only for the paths this build
/// compiles (each kernel header specialises it), so has_kernel_table tells which.
template <Isa I>
struct KernelTable {};

template <Isa I, class = void>
struct has_kernel_table : std::false_type {};
template <Isa I>
struct has_kernel_table<I, std::void_t<typename KernelTable<I>::type>> : std::true_type {};

}  // namespace qins::detail
