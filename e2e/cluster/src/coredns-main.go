// CoreDNS for the ShinyDB e2e cluster: the upstream server with a fixed, minimal plugin set.
// There is deliberately no `forward`, `grpc`, `etcd` or cloud plugin compiled in, so this
// binary cannot send a query off the machine whatever its Corefile says.
// Build glue only (copied into a wrapper module by e2e/cluster/build); not product code.
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// Execution order, a subsequence of upstream's plugin.cfg.
var directives = []string{
	"bind", "ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes", "whoami",
}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coremain.Run()
}
