// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// The fixed-layout records of the .qins file (header and table entry), described once as
// tables of fields that the reader, the writer and the mutation tests share.
// IWYU pragma: private
#pragma once

#include <cstddef>
#include <cstdint>

#include "endian.hpp"

namespace qins::detail::qins_records {

/// One little-endian integer field of a record: its name (as error messages say it), its
/// byte offset in the record and its width in bytes (1, 2, 4 or 8).
struct Field {
  const char* name;
  std::size_t offset;
  std::size_t width;
};

inline constexpr std::size_t kHeaderSize = 64;
inline constexpr std::size_t kEntrySize = 128;  ///< written; readers accept larger (newer minors)

// The header, at offset 0 of the file.
inline constexpr Field magic{"magic", 0, 4};  // the bytes "QINS", compared as bytes
inline constexpr Field major_version{"major version", 4, 2};
inline constexpr Field minor_version{"minor version", 6, 2};
inline constexpr Field tensor_count{"tensor count", 8, 4};
inline constexpr Field entry_size{"table entry size", 12, 4};
inline constexpr Field table_offset{"table offset", 16, 8};
inline constexpr Field header_end{"header end", 24, 8};
inline constexpr Field file_size{"file size", 32, 8};
inline constexpr Field metadata_offset{"metadata offset", 40, 8};  // 1.1; 0 in 1.0 files
inline constexpr Field metadata_size{"metadata size", 48, 8};      // 1.1; 0 in 1.0 files
inline constexpr Field header_checksum{"header checksum", 56, 8};
inline constexpr Field header_fields[] = {
    magic,      major_version, minor_version,   tensor_count,  entry_size,     table_offset,
    header_end, file_size,     metadata_offset, metadata_size, header_checksum};

// A table entry, one per tensor, at table offset + i * entry size.
inline constexpr Field name_offset{"name offset", 0, 8};
inline constexpr Field name_length{"name length", 8, 4};
inline constexpr Field code_type{"code type", 12, 1};
inline constexpr Field granularity{"alpha granularity", 13, 1};
inline constexpr Field has_bias{"has bias", 14, 1};
inline constexpr Field entry_reserved0{"reserved", 15, 1};
inline constexpr Field rows{"rows", 16, 8};
inline constexpr Field cols{"cols", 24, 8};
inline constexpr Field group_size{"group size", 32, 8};
inline constexpr Field codes_offset{"codes offset", 40, 8};
inline constexpr Field code_bytes{"code bytes", 48, 8};
inline constexpr Field scales_offset{"scales offset", 56, 8};
inline constexpr Field scale_count{"scale count", 64, 8};
inline constexpr Field bias_offset{"bias offset", 72, 8};
inline constexpr Field bias_count{"bias count", 80, 8};
inline constexpr Field payload_checksum{"payload checksum", 88, 8};
inline constexpr Field entry_reserved1{"reserved", 96, 8};
inline constexpr Field entry_reserved2{"reserved", 104, 8};
inline constexpr Field entry_reserved3{"reserved", 112, 8};
inline constexpr Field entry_reserved4{"reserved", 120, 8};
inline constexpr Field entry_fields[] = {name_offset,
                                         name_length,
                                         code_type,
                                         granularity,
                                         has_bias,
                                         entry_reserved0,
                                         rows,
                                         cols,
                                         group_size,
                                         codes_offset,
                                         code_bytes,
                                         scales_offset,
                                         scale_count,
                                         bias_offset,
                                         bias_count,
                                         payload_checksum,
                                         entry_reserved1,
                                         entry_reserved2,
                                         entry_reserved3,
                                         entry_reserved4};

/// The fields of a table tile the record exactly, in order (checked at compile time).
template <std::size_t N>
constexpr bool tiles(const Field (&fields)[N], std::size_t size) {
  std::size_t at = 0;
  for (const Field& f : fields) {
    if (f.offset != at || (f.width != 1 && f.width != 2 && f.width != 4 && f.width != 8))
      return false;
    at += f.width;
  }
  return at == size;
}
static_assert(tiles(header_fields, kHeaderSize), "the header fields cover its 64 bytes");
static_assert(tiles(entry_fields, kEntrySize), "the entry fields cover its 128 bytes");

/// The value of field f of the record at `record`.
inline std::uint64_t get(const std::byte* record, const Field& f) noexcept {
  const std::byte* p = record + f.offset;
  switch (f.width) {
    case 1:
      return load_le<std::uint8_t>(p);
    case 2:
      return load_le<std::uint16_t>(p);
    case 4:
      return load_le<std::uint32_t>(p);
    default:
      return load_le<std::uint64_t>(p);
  }
}

/// Writes v into field f of the record at `record`, truncated to the field's width.
inline void put(std::byte* record, const Field& f, std::uint64_t v) noexcept {
  std::byte* p = record + f.offset;
  switch (f.width) {
    case 1:
      store_le<std::uint8_t>(p, static_cast<std::uint8_t>(v));
      break;
    case 2:
      store_le<std::uint16_t>(p, static_cast<std::uint16_t>(v));
      break;
    case 4:
      store_le<std::uint32_t>(p, static_cast<std::uint32_t>(v));
      break;
    default:
      store_le<std::uint64_t>(p, v);
      break;
  }
}

}  // namespace qins::detail::qins_records
