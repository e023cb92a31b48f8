// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// Shared, 64-byte-aligned byte storage: owned allocations or views into a mapped file.
// IWYU pragma: private
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace qins::detail {

inline constexpr std::size_t kBufferAlignment = 64;

/// A std::allocator that aligns to kBufferAlignment: vectors whose whole-vector loads
/// must not straddle cache lines.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kBufferAlignment)));
  }
  void deallocate(T* p, std::size_t) noexcept {
    ::operator delete(p, std::align_val_t(kBufferAlignment));
  }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const noexcept {
    return false;
  }
};

/// Bytes that several objects may share (a loaded file backs many tensors). `data()` is
/// 64-byte aligned for owned buffers; views keep whatever owns the memory alive.
class SharedBytes {
 public:
  SharedBytes() = default;

  /// A new zero-filled, 64-byte-aligned allocation of `size` bytes.
  static SharedBytes allocate(std::size_t size) {
    SharedBytes b;
    if (size == 0) return b;
    void* p = ::operator new(size, std::align_val_t(kBufferAlignment));
    std::memset(p, 0, size);
    b.owner_ = std::shared_ptr<void>(
        p, [](void* q) { ::operator delete(q, std::align_val_t(kBufferAlignment)); });
    b.data_ = static_cast<std::byte*>(p);
    b.size_ = size;
    return b;
  }

  /// A view of `size` bytes at `data`, kept valid by `owner`.
  static SharedBytes view(std::shared_ptr<const void> owner, const std::byte* data,
                          std::size_t size) {
    SharedBytes b;
    b.owner_ = std::const_pointer_cast<void>(std::move(owner));
    b.data_ = const_cast<std::byte*>(data);
    b.size_ = size;
    b.is_view_ = true;
    return b;
  }

  /// A view of `size` bytes at `data` (inside this buffer) that shares its owner.
  SharedBytes view_of(const std::byte* data, std::size_t size) const {
    return view(owner_, data, size);
  }

  const std::byte* data() const noexcept { return data_; }
  /// Writable only for owned allocations (views are never written through).
  std::byte* mutable_data() noexcept { return is_view_ ? nullptr : data_; }
  std::size_t size() const noexcept { return size_; }
  bool is_view() const noexcept { return is_view_; }

 private:
  std::shared_ptr<void> owner_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool is_view_ = false;
};

}  // namespace qins::detail
