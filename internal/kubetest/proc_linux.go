package kubetest

import "syscall"

// sysProcAttr kills the child when the test process dies without running its
// cleanups (a `go test -timeout` panic, SIGKILL), so no etcd or kube-apiserver
// outlives the test binary.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
