// The single TU that provides the CAF test engine and main().
#include "caf/test/unit_test_impl.hpp"
