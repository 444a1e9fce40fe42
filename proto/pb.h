/* Include this instead of plugin.pb-c.h.
 *
 * protoc-c names the struct member of the proto field `errno` after it;
 * <errno.h> makes `errno` a macro, which would turn that member into a
 * function declaration.  The macro is suspended around the generated
 * header so include order does not matter; read and write the field only
 * through the accessors of pb_errno.h. */
#pragma once

#pragma push_macro("errno")
#undef errno
#include "plugin.pb-c.h"
#pragma pop_macro("errno")

#include "pb_errno.h"
