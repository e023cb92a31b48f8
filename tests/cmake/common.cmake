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

# The model layer's program, against qins::llama2 (which must push no options either).
function(qins_llama2_consumer_program)
  if(NOT TARGET qins::llama2)
    message(FATAL_ERROR "qins::llama2 is not defined")
  endif()
  get_target_property(options qins::llama2 INTERFACE_COMPILE_OPTIONS)
  if(options)
    message(FATAL_ERROR "qins::llama2 forces compile options on consumers: ${options}")
  endif()
  add_executable(llama2_consumer ${CMAKE_CURRENT_LIST_DIR}/../llama2_consumer.cpp)
  target_link_libraries(llama2_consumer PRIVATE qins::llama2)
endfunction()

# QINS_EXPECT_LLAMA2 (when defined): whether qins::llama2 must exist; if it must, build its program.
function(qins_check_llama2_target)
  if(NOT DEFINED QINS_EXPECT_LLAMA2)
    return()
  endif()
  if(QINS_EXPECT_LLAMA2)
    qins_llama2_consumer_program()
  elseif(TARGET qins::llama2)
    message(FATAL_ERROR "qins::llama2 is defined although the model layer was not asked for")
  endif()
endfunction()
