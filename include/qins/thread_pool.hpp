// SPDX-FileCopyrightText: 2026 The qins authors
// SPDX-License-Identifier: MIT
// ThreadPool: persistent workers that split a product's rows in dynamic chunks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "error.hpp"

namespace qins {

/// A fixed set of threads for QinsLinear products. `threads` counts the calling thread,
/// which always takes part: ThreadPool(2) starts one worker, so a product never runs more
/// threads than asked for. Workers sleep between calls and are reused, so a call costs a
/// wake-up, not a thread start. Chunks are handed out dynamically (cores that run slower
/// simply take fewer). One parallel_for runs at a time; concurrent callers wait.
class ThreadPool {
 public:
  /// @throws qins::Error if threads is 0.
  explicit ThreadPool(unsigned threads) {
    if (threads == 0)
      throw Error(ErrorKind::invalid_argument, "a thread pool needs at least 1 thread");
    workers_.reserve(threads - 1);
    try {
      for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    } catch (...) {  // the OS refused a thread: stop the ones already started, then report
      stop_workers();
      throw Error(ErrorKind::invalid_argument,
                  "cannot start " + std::to_string(threads - 1) + " worker threads");
    }
  }
  ~ThreadPool() { stop_workers(); }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Threads that run a parallel_for, the caller included.
  unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()) + 1; }

  /// Calls task(i) for every i in [0, chunks), spread over the pool, and returns when all
  /// calls have returned. The first exception thrown by a task is rethrown here (the
  /// remaining chunks are skipped). A task that calls parallel_for on the same pool gets
  /// its chunks run inline on its own thread (no deadlock).
  template <class Task>
  void parallel_for(std::size_t chunks, Task&& task) {
    if (current_pool() == this) {  // nested call from inside one of our tasks
      for (std::size_t i = 0; i < chunks; ++i) task(i);
      return;
    }
    std::lock_guard<std::mutex> one_at_a_time(call_mutex_);
    if (workers_.empty() || chunks <= 1) {
      for (std::size_t i = 0; i < chunks; ++i) task(i);
      return;
    }
    using Callable = std::remove_reference_t<Task>;
    Job job;
    job.task = const_cast<void*>(static_cast<const void*>(&task));
    job.call = [](void* t, std::size_t i) { (*static_cast<Callable*>(t))(i); };
    job.chunks = chunks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      ++generation_;
      busy_workers_ = workers_.size();
    }
    wake_.notify_all();
    run(job);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return busy_workers_ == 0; });
      job_ = nullptr;
    }
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  struct Job {
    void* task = nullptr;
    void (*call)(void*, std::size_t) = nullptr;
    std::size_t chunks = 0;
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
  };

  // The pool whose task the calling thread is running, if any.
  static const ThreadPool*& current_pool() noexcept {
    thread_local const ThreadPool* pool = nullptr;
    return pool;
  }

  void stop_workers() noexcept {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }

  void run(Job& job) const {
    const ThreadPool* outer = current_pool();
    current_pool() = this;
    for (std::size_t i; (i = job.next.fetch_add(1)) < job.chunks;) {
      try {
        job.call(job.task, i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(job.error_mutex);
        if (!job.error) job.error = std::current_exception();
        job.next.store(job.chunks);  // skip what is left
      }
    }
    current_pool() = outer;
  }

  void worker_loop() {
    std::size_t seen = 0;
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      run(*job);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --busy_workers_;
      }
      done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Job* job_ = nullptr;
  std::size_t generation_ = 0;
  std::size_t busy_workers_ = 0;
  bool stopping_ = false;
};

}  // namespace qins
