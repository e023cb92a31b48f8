# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
# Test fixture: cmake --install the build tree into PREFIX and check what was installed.
# cmake -DBUILD_DIR=<build> -DSOURCE_DIR=<source> -DPREFIX=<prefix> -DINSTALL_LLAMA2=<ON|OFF>
#       [-DCONFIGURE=ON -DEigen3_DIR=<dir> -DGENERATOR=<generator>] -P install_and_check.cmake
# With CONFIGURE=ON, BUILD_DIR is first configured afresh from SOURCE_DIR as a bare library
# (no tests, tools, benchmarks or fuzzers) with QINS_INSTALL_LLAMA2=INSTALL_LLAMA2.
cmake_minimum_required(VERSION 3.21)  # script mode: current policies
foreach(var BUILD_DIR SOURCE_DIR PREFIX INSTALL_LLAMA2)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "define ${var}")
  endif()
endforeach()
if(CONFIGURE)
  file(REMOVE_RECURSE ${BUILD_DIR})
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BUILD_DIR} -G ${GENERATOR}
                          -DEigen3_DIR=${Eigen3_DIR} -DQINS_BUILD_TESTS=OFF -DQINS_BUILD_TOOLS=OFF
                          -DQINS_BUILD_BENCHMARKS=OFF -DQINS_BUILD_FUZZERS=OFF -DQINS_INSTALL=ON
                          -DQINS_INSTALL_LLAMA2=${INSTALL_LLAMA2}
                  RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configuring ${SOURCE_DIR} with QINS_INSTALL_LLAMA2=${INSTALL_LLAMA2} failed (${rc})")
  endif()
endif()
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()

# Every core header under include/qins and, only with QINS_INSTALL_LLAMA2, every header of the
# model layer (llama2/include/qins/llama2) beside them; nothing else.
file(GLOB_RECURSE source_headers RELATIVE ${SOURCE_DIR}/include ${SOURCE_DIR}/include/qins/*)
file(GLOB_RECURSE llama2_headers RELATIVE ${SOURCE_DIR}/llama2/include ${SOURCE_DIR}/llama2/include/qins/*)
if(NOT llama2_headers)
  message(FATAL_ERROR "no model-layer headers under ${SOURCE_DIR}/llama2/include/qins")
endif()
if(INSTALL_LLAMA2)
  set(want_llama2 TRUE)
  list(APPEND source_headers ${llama2_headers})
else()
  set(want_llama2 FALSE)
endif()
file(GLOB_RECURSE installed_headers RELATIVE ${PREFIX}/include ${PREFIX}/include/*)
list(SORT source_headers)
list(SORT installed_headers)
if(NOT source_headers STREQUAL installed_headers)
  message(FATAL_ERROR "installed headers (QINS_INSTALL_LLAMA2=${INSTALL_LLAMA2}) differ from what should be:\n"
                      "  expected: ${source_headers}\n  installed: ${installed_headers}")
endif()
set(installed_llama2 ${installed_headers})
list(FILTER installed_llama2 INCLUDE REGEX "^qins/llama2/")
list(LENGTH installed_llama2 llama2_count)
if((want_llama2 AND llama2_count EQUAL 0) OR (NOT want_llama2 AND llama2_count GREATER 0))
  message(FATAL_ERROR "QINS_INSTALL_LLAMA2=${INSTALL_LLAMA2} installed ${llama2_count} llama2 headers")
endif()

# The CMake package and qins.pc under share/ (architecture-independent), nothing in lib/.
foreach(file share/cmake/qins/qinsConfig.cmake share/cmake/qins/qinsConfigVersion.cmake
             share/cmake/qins/qinsTargets.cmake share/pkgconfig/qins.pc)
  if(NOT EXISTS ${PREFIX}/${file})
    message(FATAL_ERROR "not installed: ${file}")
  endif()
endforeach()
# Nothing compiled but the qins tool, when the tools are built (bin/qins, nothing else in bin/).
file(GLOB top RELATIVE ${PREFIX} ${PREFIX}/*)
list(SORT top)
if(NOT top STREQUAL "include;share" AND NOT top STREQUAL "bin;include;share")
  message(FATAL_ERROR "the install prefix holds ${top}, expected include, share and maybe bin")
endif()
if(EXISTS ${PREFIX}/bin)
  file(GLOB programs RELATIVE ${PREFIX}/bin ${PREFIX}/bin/*)
  if(NOT programs STREQUAL "qins")
    message(FATAL_ERROR "bin/ holds ${programs}, expected only the qins tool")
  endif()
endif()
# The package exports qins::llama2 exactly when its headers are installed.
file(GLOB target_files ${PREFIX}/share/cmake/qins/qinsTargets*.cmake)
set(exports_llama2 FALSE)
foreach(target_file ${target_files})
  file(STRINGS ${target_file} lines REGEX "add_library\\(qins::llama2 ")
  if(lines)
    set(exports_llama2 TRUE)
  endif()
endforeach()
if(NOT exports_llama2 STREQUAL want_llama2)
  message(FATAL_ERROR "QINS_INSTALL_LLAMA2=${INSTALL_LLAMA2} but the package exports qins::llama2: ${exports_llama2}")
endif()

# The version file: SameMajorVersion, and no 32/64-bit check (ARCH_INDEPENDENT).
file(STRINGS ${SOURCE_DIR}/CMakeLists.txt project_line REGEX "^project\\(qins VERSION ")
string(REGEX MATCH "VERSION ([0-9]+)\\.([0-9]+)\\.([0-9]+)" _ "${project_line}")
set(major ${CMAKE_MATCH_1})
set(minor ${CMAKE_MATCH_2})
math(EXPR next_major "${major} + 1")
math(EXPR next_minor "${minor} + 1")
function(check_request requested pointer_size expected)
  string(REPLACE "." ";" parts "${requested}")
  list(GET parts 0 PACKAGE_FIND_VERSION_MAJOR)
  list(GET parts 1 PACKAGE_FIND_VERSION_MINOR)
  set(PACKAGE_FIND_VERSION ${requested})
  set(PACKAGE_FIND_VERSION_PATCH 0)
  set(PACKAGE_FIND_VERSION_COUNT 2)
  set(CMAKE_SIZEOF_VOID_P ${pointer_size})
  include(${PREFIX}/share/cmake/qins/qinsConfigVersion.cmake)
  if(PACKAGE_VERSION_COMPATIBLE AND NOT PACKAGE_VERSION_UNSUITABLE)
    set(found TRUE)
  else()
    set(found FALSE)
  endif()
  if(NOT found STREQUAL expected)
    message(FATAL_ERROR "qinsConfigVersion.cmake ${PACKAGE_VERSION}: a request for ${requested} from a "
                        "${pointer_size}-byte-pointer project gives ${found}, expected ${expected}")
  endif()
endfunction()
check_request(${major}.${minor} 8 TRUE)
check_request(${major}.${minor} 4 TRUE)  # architecture-independent
check_request(${major}.${next_minor} 8 FALSE)
check_request(${next_major}.0 8 FALSE)  # another major version
message(STATUS "installed qins into ${PREFIX} (${llama2_count} model-layer headers)")
