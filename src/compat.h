/* Compiler attributes. On mingw-w64 the plain `printf` format archetype
 * checks Microsoft's printf, which knows no %zu; Tether builds with mingw's
 * C99 stdio, so GCC's gnu_printf is the right check everywhere. */
#ifndef TT_COMPAT_H
#define TT_COMPAT_H

#if defined(__GNUC__) && !defined(__clang__)
#define TT_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__clang__)
#define TT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TT_PRINTF(fmt, args)
#endif

#endif
