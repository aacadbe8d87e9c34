#ifndef SIDECAR_CNGHTTP2_SHIM_H
#define SIDECAR_CNGHTTP2_SHIM_H
// Umbrella header for libnghttp2 (Debian bookworm: 1.52, pre-1.60 API).
#include <nghttp2/nghttp2.h>
#endif
