// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Whole-file reads and read-only memory maps, owned through shared_ptr.
// IWYU pragma: private
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "../error.hpp"
#include "aligned_buffer.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define QINS_DETAIL_HAS_MMAP 1
#else
#define QINS_DETAIL_HAS_MMAP 0
#endif

namespace qins::detail {

/// Throws qins::Error (io_failure) naming the path if it does not exist or is a
/// directory (which streams and mmap would report as a read error or out of memory).
inline void check_regular_file(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (st.type() == std::filesystem::file_type::not_found)
    throw Error(ErrorKind::io_failure, "'" + path + "': no such file");
  if (st.type() == std::filesystem::file_type::directory)
    throw Error(ErrorKind::io_failure, "'" + path + "' is a directory, not a file");
}

/// The whole file in a new 64-byte-aligned buffer.
inline SharedBytes read_whole_file(const std::string& path) {
  check_regular_file(path);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(ErrorKind::io_failure, "cannot open '" + path + "' for reading");
  const std::streamoff size = in.tellg();
  if (size < 0) throw Error(ErrorKind::io_failure, "cannot determine the size of '" + path + "'");
  SharedBytes bytes;
  try {
    bytes = SharedBytes::allocate(static_cast<std::size_t>(size));
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::io_failure, "out of memory reading '" + path + "'");
  }
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.mutable_data()), size))
    throw Error(ErrorKind::io_failure, "cannot read '" + path + "'");
  return bytes;
}

/// The file mapped read-only; the mapping lives as long as any view of it.
inline SharedBytes map_whole_file(const std::string& path) {
  check_regular_file(path);
#if QINS_DETAIL_HAS_MMAP
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::io_failure, "cannot open '" + path + "' for reading");
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size < 0) {
    ::close(fd);
    throw Error(ErrorKind::io_failure, "cannot determine the size of '" + path + "'");
  }
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return SharedBytes::view(nullptr, nullptr, 0);
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw Error(ErrorKind::io_failure, "cannot memory-map '" + path + "'");
  std::shared_ptr<const void> owner(
      p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  return SharedBytes::view(std::move(owner), static_cast<const std::byte*>(p), size);
#else
  return read_whole_file(path);
#endif
}

/// Tells the OS that the whole pages inside [data, data + size) of a read-only mapping will
/// not be needed soon: it may drop them (they are read again from the file if touched).
/// Keeps the resident memory of a pass over a large mapped file near what is being used.
inline void release_pages(const std::byte* data, std::size_t size) noexcept {
#if QINS_DETAIL_HAS_MMAP
  const long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0 || data == nullptr) return;
  const std::uintptr_t p = static_cast<std::uintptr_t>(page);
  const std::uintptr_t from = (reinterpret_cast<std::uintptr_t>(data) + p - 1) / p * p;
  const std::uintptr_t to = (reinterpret_cast<std::uintptr_t>(data) + size) / p * p;
  if (from < to) (void)::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
#else
  (void)data;
  (void)size;
#endif
}

}  // namespace qins::detail
