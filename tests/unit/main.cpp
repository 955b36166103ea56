// The CAF 0.17 test engine and main() (header-only framework: exactly one TU includes this).
#include "caf/test/unit_test_impl.hpp"
