// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Little-endian integer fields read and written through memcpy (never pointer casts).
// IWYU pragma: private
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error \
    "qins files are little-endian and their payloads are used in place: big-endian hosts are not supported"
#endif

namespace qins::detail {

template <class U>
inline U load_le(const std::byte* p) noexcept {
  static_assert(std::is_unsigned_v<U>, "unsigned fields");
  U v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class U>
inline void store_le(std::byte* p, U v) noexcept {
  static_assert(std::is_unsigned_v<U>, "unsigned fields");
  std::memcpy(p, &v, sizeof v);
}

}  // namespace qins::detail
