// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Code formats: one descriptor per way of storing a weight, and the visitor from the
// run-time CodeType to the compile-time descriptor.
//
// A descriptor says everything the kernels, the layers and the file format need to know
// about a format: its name and file id (`type`), the bits of a code and the largest code
// M = 2^bits - 1, how codes pack into bytes (`codes_per_block` codes in `bytes_per_block`
// bytes; rows of n codes take row_bytes(n) bytes), and the scalar load and store of code
// i of a row. Kernels address codes as a row's bytes plus an element index, so a packed
// format is one more descriptor (and one vector load), never a new set of kernels. A new
// format is added to `CodeFormats` below; every switch on CodeType in the library goes
// through visit_code_format() or stored_type_info().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "error.hpp"

namespace qins {

/// What a stored tensor holds per weight. The values are the .qins file ids.
enum class CodeType : std::uint8_t {
  uint8 = 1,    ///< 8-bit QINS codes, 1 byte per weight
  uint16 = 2,   ///< 16-bit QINS codes, 2 bytes per weight
  float32 = 3,  ///< unquantized z values, 4 bytes per weight: for validation only
  plain = 4,    ///< the float32 weights themselves, no alpha (a model's embeddings and norms)
  uint12 = 5,   ///< 12-bit QINS codes, two in three bytes (1.5 bytes per weight)
};

/// What every format of one whole unsigned element per code shares: E's bits, M = 2^bits - 1,
/// rows of n codes in n * sizeof(E) bytes, and code i as the little-endian E at i.
template <class E>
struct WholeElementCodes {
  static constexpr bool quantized = true;
  static constexpr bool has_scales = true;
  static constexpr unsigned bits = 8 * sizeof(E);
  static constexpr std::uint32_t max_code =
      static_cast<std::uint32_t>((std::uint64_t{1} << bits) - 1);
  static constexpr std::size_t codes_per_block = 1, bytes_per_block = sizeof(E);
  using Element = E;  ///< the C++ type of one code
  static constexpr std::size_t row_bytes(std::size_t n) noexcept { return n * sizeof(E); }
  static std::uint32_t load(const std::byte* row, std::size_t i) noexcept {
    E e;
    std::memcpy(&e, row + i * sizeof(E), sizeof e);
    return e;
  }
  static void store(std::byte* row, std::size_t i, std::uint32_t code) noexcept {
    const E e = static_cast<E>(code);
    std::memcpy(row + i * sizeof(E), &e, sizeof e);
  }
};

/// 8-bit QINS codes (M = 255), one byte each.
struct Uint8Codes : WholeElementCodes<std::uint8_t> {
  static constexpr CodeType type = CodeType::uint8;
  static constexpr const char* name = "uint8";
};

/// 16-bit QINS codes (M = 65535), two little-endian bytes each.
struct Uint16Codes : WholeElementCodes<std::uint16_t> {
  static constexpr CodeType type = CodeType::uint16;
  static constexpr const char* name = "uint16";
};

/// 12-bit QINS codes (M = 4095), packed two in three bytes. Codes 2k and 2k + 1 of a row
/// are the 24-bit little-endian word of bytes 3k .. 3k + 2, the even code in its low 12
/// bits:
///
///     byte      3k                3k + 1                3k + 2
///     bits   7 ........ 0   7 .... 4  3 .... 0   7 ........ 0
///            c[2k] bits 7-0 c[2k+1] 3-0 c[2k] 11-8 c[2k+1] bits 11-4
///
/// A row of n codes takes 3 * ceil(n / 2) bytes: an odd row ends with a whole block whose
/// upper 12 bits are zero (a 4096 x 4096 layer: 25,165,824 bytes).
struct Uint12Codes {
  static constexpr CodeType type = CodeType::uint12;
  static constexpr const char* name = "uint12";
  static constexpr bool quantized = true;
  static constexpr bool has_scales = true;
  static constexpr unsigned bits = 12;
  static constexpr std::uint32_t max_code = 4095;
  static constexpr std::size_t codes_per_block = 2, bytes_per_block = 3;
  static constexpr std::size_t row_bytes(std::size_t n) noexcept { return (n + 1) / 2 * 3; }
  static std::uint32_t load(const std::byte* row, std::size_t i) noexcept {
    const std::byte* p = row + i / 2 * 3;
    // The two bytes that hold code i: 3k, 3k + 1 (even i) or 3k + 1, 3k + 2 (odd i).
    const std::uint32_t pair = std::to_integer<std::uint32_t>(p[i % 2]) |
                               std::to_integer<std::uint32_t>(p[i % 2 + 1]) << 8;
    return i % 2 ? pair >> 4 : pair & 0xfff;
  }
  static void store(std::byte* row, std::size_t i, std::uint32_t code) noexcept {
    std::byte* p = row + i / 2 * 3;
    if (i % 2 == 0) {
      p[0] = std::byte(code & 0xff);
      p[1] = (p[1] & std::byte{0xf0}) | std::byte((code >> 8) & 0x0f);
    } else {
      p[1] = (p[1] & std::byte{0x0f}) | std::byte((code << 4) & 0xf0);
      p[2] = std::byte((code >> 4) & 0xff);
    }
  }
};

/// Unquantized z values (float32): the codec's error without rounding to codes. Not a
/// code format: the kernels never see it, QinsLinear keeps it for decode() only.
struct Float32Values {
  static constexpr CodeType type = CodeType::float32;
  static constexpr const char* name = "float32";
  static constexpr bool quantized = false;
  static constexpr bool has_scales = true;  ///< z decodes with 1/alpha
  static constexpr unsigned bits = 32;
  static constexpr std::size_t codes_per_block = 1, bytes_per_block = 4;
  static constexpr std::size_t row_bytes(std::size_t n) noexcept { return 4 * n; }
};

/// Float32 weights stored as they are (no codec, no alpha): the tensors of a model that
/// stay in float, such as its embeddings and norms.
struct PlainFloats {
  static constexpr CodeType type = CodeType::plain;
  static constexpr const char* name = "plain float32";
  static constexpr bool quantized = false;
  static constexpr bool has_scales = false;
  static constexpr unsigned bits = 32;
  static constexpr std::size_t codes_per_block = 1, bytes_per_block = 4;
  static constexpr std::size_t row_bytes(std::size_t n) noexcept { return 4 * n; }
};

/// A list of descriptors.
template <class... Formats>
struct FormatList {};

/// The code formats the kernels implement.
using CodeFormats = FormatList<Uint8Codes, Uint16Codes, Uint12Codes>;
/// Everything a stored tensor can hold: the code formats, float32 z values, plain floats.
using StoredFormats = FormatList<Uint8Codes, Uint16Codes, Uint12Codes, Float32Values, PlainFloats>;

namespace detail {
// The caller has checked that `type` is in the list: the last entry needs no comparison.
template <class F, class First, class... Rest>
decltype(auto) visit_list(CodeType type, F&& f, FormatList<First, Rest...>) {
  if constexpr (sizeof...(Rest) == 0) {
    (void)type;
    return f(First{});
  } else {
    if (type == First::type) return f(First{});
    return visit_list(type, std::forward<F>(f), FormatList<Rest...>{});
  }
}
template <class... Formats>
constexpr bool in_list(CodeType type, FormatList<Formats...>) noexcept {
  return ((type == Formats::type) || ...);
}
}  // namespace detail

/// True for the CodeType values of the code formats (not float32, not unknown values).
constexpr bool is_code_format(CodeType type) noexcept {
  return detail::in_list(type, CodeFormats{});
}
/// True for every value a stored tensor may hold.
constexpr bool is_stored_type(CodeType type) noexcept {
  return detail::in_list(type, StoredFormats{});
}

/// Calls f with the descriptor of `type` (a value-initialised Uint8Codes, Uint16Codes, ...)
/// and returns what it returns. @throws qins::Error (invalid_argument) if type is not a
/// code format.
template <class F>
decltype(auto) visit_code_format(CodeType type, F&& f) {
  if (!is_code_format(type))
    throw Error(ErrorKind::invalid_argument,
                "not a code format: CodeType " + std::to_string(int(type)));
  return detail::visit_list(type, std::forward<F>(f), CodeFormats{});
}

/// What every stored type is, at run time.
struct StoredTypeInfo {
  const char* name = "unknown";
  unsigned bits = 0;  ///< of one stored weight
  bool quantized = false;
  bool has_scales = false;  ///< one 1/alpha per alpha slot of the layout (else none)
  std::size_t codes_per_block = 0, bytes_per_block = 0;

  /// Bytes of a row of n weights (0 for an unknown type).
  std::size_t row_bytes(std::size_t n) const noexcept {
    return codes_per_block ? (n / codes_per_block) * bytes_per_block +
                                 (n % codes_per_block ? bytes_per_block : 0)
                           : 0;
  }
};

/// The descriptor of `type` as values; a default StoredTypeInfo (name "unknown", 0 bits)
/// for a value outside the enum.
inline StoredTypeInfo stored_type_info(CodeType type) noexcept {
  if (!is_stored_type(type)) return {};
  return detail::visit_list(
      type,
      [](auto f) {
        using Format = decltype(f);
        return StoredTypeInfo{Format::name,
                              Format::bits,
                              Format::quantized,
                              Format::has_scales,
                              Format::codes_per_block,
                              Format::bytes_per_block};
      },
      StoredFormats{});
}

/// "uint8", "uint16", "uint12", "float32", "plain float32"; "unknown" for a value outside
/// the enum.
inline const char* to_string(CodeType type) noexcept { return stored_type_info(type).name; }

/// The descriptor of the codes a C++ element type holds: CodeTraits<std::uint8_t> is
/// Uint8Codes, CodeTraits<std::uint16_t> is Uint16Codes (with `Format` naming it). The
/// pointer-to-code API (qins::quantize(const float*, std::uint8_t*, n), ...) uses this.
template <class Code>
struct CodeTraits;
template <>
struct CodeTraits<std::uint8_t> : Uint8Codes {
  using Format = Uint8Codes;
};
template <>
struct CodeTraits<std::uint16_t> : Uint16Codes {
  using Format = Uint16Codes;
};

/// True for the element types with a CodeTraits specialisation.
template <class Code, class = void>
struct is_code_type : std::false_type {};
template <class Code>
struct is_code_type<Code, std::void_t<typename CodeTraits<Code>::Format>> : std::true_type {};
template <class Code>
inline constexpr bool is_code_type_v = is_code_type<Code>::value;

/// The descriptor named by X: X itself, or for an element type (std::uint8_t, ...) its
/// CodeTraits<X>::Format.
template <class X, bool = std::is_integral_v<X>>
struct format_of {
  using type = X;
};
template <class X>
struct format_of<X, true> {
  using type = typename CodeTraits<X>::Format;
};
template <class X>
using format_of_t = typename format_of<X>::type;

/// The code that every zero weight (+0 and -0) gets: M, which decodes to exactly +0.
/// X is a descriptor or an element type.
template <class X>
constexpr std::uint32_t zero_code() noexcept {
  return format_of_t<X>::max_code;
}

/// The largest magnitude a code can decode to, times alpha: M - 1 (254 for uint8).
template <class X>
constexpr double max_decoded_magnitude_times_alpha() noexcept {
  return static_cast<double>(format_of_t<X>::max_code) - 1.0;
}

}  // namespace qins
