package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCgroupMemoryMax(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	assert.Equal(t, int64(536870912), cgroupMemoryMax(write("536870912\n")))
	assert.Equal(t, int64(0), cgroupMemoryMax(write("max\n")), "no limit")
	assert.Equal(t, int64(0), cgroupMemoryMax(write("")), "empty")
	assert.Equal(t, int64(0), cgroupMemoryMax(filepath.Join(dir, "missing")), "no cgroup v2")
}
