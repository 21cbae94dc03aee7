/*
 * The static binary's gethostbyname: none.
 *
 * OpenSSL's libcrypto.a (linked in for pull's HTTPS) carries BIO_gethostbyname, an old
 * resolver entry point nothing in Isolate calls: .NET resolves host names through
 * getaddrinfo. Linked from glibc's libc.a, gethostbyname would bring a linker warning (a
 * static binary cannot load the NSS modules it may need) that the build treats as an
 * error. This definition is taken first (-Wl,--undefined=gethostbyname in
 * Isolate.Cli.csproj), and answers as a resolver that found nothing.
 */
#include <netdb.h>
#include <stddef.h>

struct hostent *gethostbyname(const char *name)
{
    (void)name;
    h_errno = NO_RECOVERY;
    return NULL;
}
