// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/testing/free_port.h
// FreePort(): a loopback TCP port nobody listens on, for tests that start a server process
// on a port of their own choosing. Binds to port 0 and reads back what the kernel chose;
// another process could take the port before the test uses it (rare on a test machine).
// Returns 0 when no socket could be made. Header-only.
#ifndef MOT_TESTS_TESTING_FREE_PORT_H_
#define MOT_TESTS_TESTING_FREE_PORT_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mot::testing {

inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

}  // namespace mot::testing

#endif  // MOT_TESTS_TESTING_FREE_PORT_H_
