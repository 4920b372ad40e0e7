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
