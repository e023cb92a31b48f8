# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
# Consumer test: compile and run the consumer program with only `pkg-config --cflags qins`.
# cmake -DPKG_CONFIG=<pkg-config> -DPREFIX=<prefix> -DCXX=<c++> -DSOURCE=<consumer.cpp> -DOUT=<exe>
#       -DVERSION=<x.y.z> -P pkg_config_build.cmake
cmake_minimum_required(VERSION 3.21)  # script mode: current policies
set(ENV{PKG_CONFIG_PATH} ${PREFIX}/share/pkgconfig)
execute_process(COMMAND ${PKG_CONFIG} --modversion qins OUTPUT_VARIABLE version RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0 OR NOT version STREQUAL VERSION)
  message(FATAL_ERROR "pkg-config --modversion qins gave '${version}' (${rc}), expected ${VERSION}")
endif()
execute_process(COMMAND ${PKG_CONFIG} --cflags qins OUTPUT_VARIABLE cflags RESULT_VARIABLE rc
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags qins failed")
endif()
message(STATUS "pkg-config --cflags qins: ${cflags}")
separate_arguments(cflags UNIX_COMMAND "${cflags}")
execute_process(COMMAND ${CXX} -std=c++17 ${cflags} ${SOURCE} -o ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling with the pkg-config flags failed")
endif()
execute_process(COMMAND ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the program built with the pkg-config flags failed (${rc})")
endif()
