# C++ unit tests (GoogleTest), included from the top CMakeLists.txt when
# YEP_BUILD_TESTS is ON. Run with: ctest --test-dir build/py
find_package(GTest)
if(NOT GTest_FOUND)
  message(FATAL_ERROR "GoogleTest not found: apt-get install libgtest-dev")
endif()
enable_testing()
include(GoogleTest)

add_executable(reader_test tests/cpp/reader_test.cpp)
target_link_libraries(reader_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(reader_test)

add_executable(function_name_test tests/cpp/function_name_test.cpp)
target_link_libraries(function_name_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(function_name_test)

add_executable(symbol_cache_test tests/cpp/symbol_cache_test.cpp)
target_link_libraries(symbol_cache_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(symbol_cache_test)

add_executable(short_paths_test tests/cpp/short_paths_test.cpp)
target_link_libraries(short_paths_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(short_paths_test)

# The symbolizer against a fixture library with known functions, and copies
# of it stripped, without .debug_aranges, with separate debug info
# (.gnu_debuglink) and with MiniDebugInfo (.gnu_debugdata).
# -Ttext-segment puts code at an address unlike its file offset, so a missing
# PT_LOAD adjustment fails; -fno-toplevel-reorder keeps functions in source
# order, so "never the nearest preceding symbol" is really tested.
set(YEP_SYMBOLIZER_FIXTURE_SOURCES tests/cpp/fixtures/symbolizer_fixture.c tests/cpp/fixtures/symbolizer_fixture.cpp)
add_library(yep_symbolizer_fixture SHARED ${YEP_SYMBOLIZER_FIXTURE_SOURCES})
target_compile_options(yep_symbolizer_fixture PRIVATE -g -O2 -fno-toplevel-reorder)
target_link_options(yep_symbolizer_fixture PRIVATE -Wl,-Ttext-segment=0x10000)
set(YEP_FIXTURE_COPY ${CMAKE_CURRENT_BINARY_DIR}/libyep_symbolizer_fixture)
add_custom_command(TARGET yep_symbolizer_fixture POST_BUILD
  COMMAND ${CMAKE_OBJCOPY} --strip-all $<TARGET_FILE:yep_symbolizer_fixture> ${YEP_FIXTURE_COPY}_stripped.so
  COMMAND ${CMAKE_OBJCOPY} --remove-section=.debug_aranges $<TARGET_FILE:yep_symbolizer_fixture> ${YEP_FIXTURE_COPY}_noaranges.so
  COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:yep_symbolizer_fixture> ${YEP_FIXTURE_COPY}_debuglink.debug
  COMMAND ${CMAKE_OBJCOPY} --strip-all --add-gnu-debuglink=${YEP_FIXTURE_COPY}_debuglink.debug $<TARGET_FILE:yep_symbolizer_fixture> ${YEP_FIXTURE_COPY}_debuglink.so
  BYPRODUCTS ${YEP_FIXTURE_COPY}_stripped.so ${YEP_FIXTURE_COPY}_noaranges.so ${YEP_FIXTURE_COPY}_debuglink.debug ${YEP_FIXTURE_COPY}_debuglink.so
  VERBATIM)
find_program(XZ_EXECUTABLE xz)
if(XZ_EXECUTABLE)
  add_custom_command(TARGET yep_symbolizer_fixture POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE:yep_symbolizer_fixture> ${YEP_FIXTURE_COPY}_mini.symtab
    COMMAND ${CMAKE_OBJCOPY} --strip-all --keep-symbol=yep_fixture_local ${YEP_FIXTURE_COPY}_mini.symtab
    COMMAND ${XZ_EXECUTABLE} --force ${YEP_FIXTURE_COPY}_mini.symtab
    COMMAND ${CMAKE_OBJCOPY} --strip-all --add-section .gnu_debugdata=${YEP_FIXTURE_COPY}_mini.symtab.xz $<TARGET_FILE:yep_symbolizer_fixture> ${YEP_FIXTURE_COPY}_minidebuginfo.so
    BYPRODUCTS ${YEP_FIXTURE_COPY}_mini.symtab.xz ${YEP_FIXTURE_COPY}_minidebuginfo.so
    VERBATIM)
endif()
add_executable(yep_symbolizer_fixture_exec ${YEP_SYMBOLIZER_FIXTURE_SOURCES})
target_compile_definitions(yep_symbolizer_fixture_exec PRIVATE YEP_FIXTURE_MAIN)
target_compile_options(yep_symbolizer_fixture_exec PRIVATE -g -O2 -fno-pie)
target_link_options(yep_symbolizer_fixture_exec PRIVATE -no-pie)
set_target_properties(yep_symbolizer_fixture_exec PROPERTIES POSITION_INDEPENDENT_CODE OFF)
add_executable(symbolizer_test tests/cpp/symbolizer_test.cpp)
target_link_libraries(symbolizer_test PRIVATE yepconv GTest::gtest_main ${CMAKE_DL_LIBS})
add_dependencies(symbolizer_test yep_symbolizer_fixture yep_symbolizer_fixture_exec)
target_compile_definitions(symbolizer_test PRIVATE
  YEP_SYMBOLIZER_FIXTURE="$<TARGET_FILE:yep_symbolizer_fixture>"
  YEP_SYMBOLIZER_FIXTURE_STRIPPED="${YEP_FIXTURE_COPY}_stripped.so"
  YEP_SYMBOLIZER_FIXTURE_NOARANGES="${YEP_FIXTURE_COPY}_noaranges.so"
  YEP_SYMBOLIZER_FIXTURE_DEBUGLINK="${YEP_FIXTURE_COPY}_debuglink.so"
  YEP_SYMBOLIZER_FIXTURE_EXEC="$<TARGET_FILE:yep_symbolizer_fixture_exec>")
if(XZ_EXECUTABLE)
  target_compile_definitions(symbolizer_test PRIVATE YEP_SYMBOLIZER_FIXTURE_MINIDEBUGINFO="${YEP_FIXTURE_COPY}_minidebuginfo.so")
endif()
gtest_discover_tests(symbolizer_test)

add_executable(object_addresses_test tests/cpp/object_addresses_test.cpp)
target_link_libraries(object_addresses_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(object_addresses_test)

add_executable(proto_writer_test tests/cpp/proto_writer_test.cpp)
target_link_libraries(proto_writer_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(proto_writer_test)

add_executable(flamegraph_test tests/cpp/flamegraph_test.cpp)
target_link_libraries(flamegraph_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(flamegraph_test)

# The call graph writer on crafted profiles: labels, pruning, comparisons.
add_executable(dot_writer_test tests/cpp/dot_writer_test.cpp)
target_link_libraries(dot_writer_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(dot_writer_test)
add_executable(text_writer_test tests/cpp/text_writer_test.cpp)
target_link_libraries(text_writer_test PRIVATE yepconv GTest::gtest_main)
gtest_discover_tests(text_writer_test)

# The heap profile reader, format detection and base subtraction on crafted
# files; and a real gperftools dump cut at 1 MiB, written by a program linked
# to tcmalloc (the test skips when libtcmalloc is missing).
add_executable(heap_reader_test tests/cpp/heap_reader_test.cpp)
target_link_libraries(heap_reader_test PRIVATE yepconv GTest::gtest_main)
pkg_check_modules(YEP_TEST_TCMALLOC IMPORTED_TARGET libtcmalloc)
if(YEP_TEST_TCMALLOC_FOUND)
  add_executable(heap_truncation_program tests/cpp/heap_truncation_program.cpp)
  target_link_libraries(heap_truncation_program PRIVATE PkgConfig::YEP_TEST_TCMALLOC)
  add_dependencies(heap_reader_test heap_truncation_program)
  target_compile_definitions(heap_reader_test PRIVATE
    YEP_HEAP_TRUNCATION_PROGRAM="$<TARGET_FILE:heap_truncation_program>")
else()
  message(STATUS "libtcmalloc not found: the real heap dump test will be skipped")
endif()
gtest_discover_tests(heap_reader_test)

# The native unwinder (python/native_unwinder.*, python/unwind_table.*) on
# stacks of known functions, from the calling thread and from a SIGPROF
# handler, against glibc's backtrace(). -O2 without frame pointers, and
# -rdynamic so that dladdr names the test's own functions.
add_executable(unwinder_test tests/cpp/unwinder_test.cpp python/native_unwinder.cpp python/unwind_table.cpp
               python/safe_reader.cpp)
target_include_directories(unwinder_test PRIVATE python)
target_compile_options(unwinder_test PRIVATE -O2 -fomit-frame-pointer)
target_link_options(unwinder_test PRIVATE -rdynamic)
target_link_libraries(unwinder_test PRIVATE GTest::gtest_main ${CMAKE_DL_LIBS})
gtest_discover_tests(unwinder_test)

add_executable(root_cut_test tests/cpp/root_cut_test.cpp)
target_include_directories(root_cut_test PRIVATE python)
target_link_libraries(root_cut_test PRIVATE GTest::gtest_main)
gtest_discover_tests(root_cut_test)

# The sampled heap mode's sampler (python/heap_sampler.*): weights, draws,
# unbiased estimates, seeds.
add_executable(heap_sampler_test tests/cpp/heap_sampler_test.cpp python/heap_sampler.cpp)
target_include_directories(heap_sampler_test PRIVATE python)
target_link_libraries(heap_sampler_test PRIVATE GTest::gtest_main)
gtest_discover_tests(heap_sampler_test)
