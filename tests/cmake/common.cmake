# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
# Shared by the consumer projects: plain ISO C++ (no extensions, no flags) and the program.
if(NOT DEFINED CMAKE_CXX_STANDARD)
  set(CMAKE_CXX_STANDARD 17)
endif()
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)

# qins must not push options onto its consumers (no -march, no warnings, no -O).
function(qins_consumer_program)
  if(NOT TARGET qins::qins)
    message(FATAL_ERROR "qins::qins is not defined")
  endif()
  get_target_property(options qins::qins INTERFACE_COMPILE_OPTIONS)
  if(options)
    message(FATAL_ERROR "qins::qins forces compile options on consumers: ${options}")
  endif()
  add_executable(consumer ${CMAKE_CURRENT_LIST_DIR}/../consumer.cpp)
  target_link_libraries(consumer PRIVATE qins::qins)
endfunction()
