// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Opens a region whose functions are compiled for QINS_DETAIL_TARGET (no -m flags needed).
// IWYU pragma: private
// No include guard: included once per target region, closed by target_end.hpp.
#if defined(__clang__)
#define QINS_DETAIL_PRAGMA(x) _Pragma(#x)
#define QINS_DETAIL_TARGET_PUSH(t) \
  QINS_DETAIL_PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
QINS_DETAIL_TARGET_PUSH(QINS_DETAIL_TARGET)
#undef QINS_DETAIL_TARGET_PUSH
#undef QINS_DETAIL_PRAGMA
#else
#pragma GCC push_options
#define QINS_DETAIL_PRAGMA(x) _Pragma(#x)
#define QINS_DETAIL_TARGET_PUSH(t) QINS_DETAIL_PRAGMA(GCC target(t))
QINS_DETAIL_TARGET_PUSH(QINS_DETAIL_TARGET)
#undef QINS_DETAIL_TARGET_PUSH
#undef QINS_DETAIL_PRAGMA
// GCC 12 warns falsely about _mm512_undefined_* inside its own intrinsics headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
