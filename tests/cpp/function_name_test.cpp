#include <gtest/gtest.h>

#include "function_name.h"

using yep::short_function_name;

TEST(ShortFunctionName, CNamesAreUnchanged) {
  EXPECT_EQ(short_function_name("burn_hot"), "burn_hot");
  EXPECT_EQ(short_function_name("libz.so.1+0xab7d"), "libz.so.1+0xab7d");
}

TEST(ShortFunctionName, DropsParametersTemplatesReturnTypeAndClones) {
  EXPECT_EQ(short_function_name("void qsort_<zmm_vector<double>, Comparator<zmm_vector<double>, false>, double>"
                                "(double*, unsigned long) [clone .constprop.0]"),
            "qsort_");
  EXPECT_EQ(short_function_name("std::vector<int, std::allocator<int> >::push_back(int const&)"),
            "std::vector::push_back");
  EXPECT_EQ(short_function_name("ns::Widget::draw(int) const"), "ns::Widget::draw");
  EXPECT_EQ(short_function_name("(anonymous namespace)::helper(int)"), "(anonymous namespace)::helper");
}

TEST(ShortFunctionName, KeepsOperators) {
  EXPECT_EQ(short_function_name("ns::Fn::operator()(int) const"), "ns::Fn::operator()");
  EXPECT_EQ(short_function_name("operator<<(std::ostream&, Foo const&)"), "operator<<");
  EXPECT_EQ(short_function_name("operator new(unsigned long)"), "operator new");
  EXPECT_EQ(short_function_name("bool std::operator< <char>(std::string const&, char const*)"), "std::operator<");
}

TEST(CythonName, ModulesClassesAndFunctionsAsPythonNamesThem) {
  using yep::cython_name;
  EXPECT_EQ(cython_name("__pyx_f_7sklearn_4tree_10_criterion_4Gini_children_impurity"),
            "sklearn.tree._criterion.Gini.children_impurity");
  EXPECT_EQ(cython_name("__pyx_pw_6pandas_5_libs_3lib_25maybe_convert_objects"), "pandas._libs.lib.maybe_convert_objects");
  EXPECT_EQ(cython_name("__pyx_pf_7fixture_3hot"), "fixture.hot");
  EXPECT_EQ(cython_name("__pyx_f_5numpy_7ndarray_4size"), "numpy.ndarray.size");
}

TEST(CythonName, OtherNamesAreNotCythons) {
  using yep::cython_name;
  EXPECT_EQ(cython_name("burn_hot"), "");
  EXPECT_EQ(cython_name("__pyx_module_is_main_fixture"), "");
  EXPECT_EQ(cython_name("__pyx_f_"), "");
  EXPECT_EQ(cython_name("__pyx_f_nodigits"), "");
  EXPECT_EQ(cython_name("__pyx_f_99999999999_x"), "");
}

TEST(WithoutCloneSuffix, CompilerCopiesAreTheFunctionTheyCopy) {
  using yep::without_clone_suffix;
  EXPECT_EQ(without_clone_suffix("_PyObject_MakeTpCall.constprop.1"), "_PyObject_MakeTpCall");
  EXPECT_EQ(without_clone_suffix("_PyObject_MakeTpCall.constprop"), "_PyObject_MakeTpCall");  // LTO's DW_AT_name
  EXPECT_EQ(without_clone_suffix("burn.localalias.lto_priv.0"), "burn");
  EXPECT_EQ(without_clone_suffix("_ZN2ns4workEi.isra.0.cold"), "_ZN2ns4workEi");
  EXPECT_EQ(without_clone_suffix("deflate_slow.part.0"), "deflate_slow");
  EXPECT_EQ(without_clone_suffix("helper.llvm.4185630914125391032"), "helper");
}

TEST(WithoutCloneSuffix, OtherDotsStay) {
  using yep::without_clone_suffix;
  EXPECT_EQ(without_clone_suffix("burn"), "burn");
  EXPECT_EQ(without_clone_suffix("runtime.mallocgc"), "runtime.mallocgc");  // Go
  EXPECT_EQ(without_clone_suffix("main.main.func1"), "main.main.func1");
  EXPECT_EQ(without_clone_suffix("f.123"), "f.123");
  EXPECT_EQ(without_clone_suffix("ns.cold.thing"), "ns.cold.thing");
  EXPECT_EQ(without_clone_suffix(".cold"), ".cold");
  EXPECT_EQ(without_clone_suffix(""), "");
}
