package tests

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	platformfs "github.com/otomi/otomi"
	"github.com/otomi/otomi/pkg/cmdutil"
	"github.com/otomi/otomi/pkg/render"
	"github.com/otomi/otomi/pkg/schema"
	"github.com/otomi/otomi/pkg/values"
)

// minSecretLen: shorter x-secret values (a port, "true") would match by chance.
const minSecretLen = 6

// renderWithValues renders the example platform (this checkout) with state
// values layered over the example repo, and returns the merged values too.
func renderWithValues(t *testing.T, flags cmdutil.RenderFlags) (map[string]any, []*render.Release, []*render.Manifest) {
	t.Helper()
	loaded, manifests := renderExample(t, repoRoot(t), flags, render.RenderOptions{IncludeCRDs: true})
	return loaded.StateValues, loaded.Releases, manifests
}

// secretLeaf is one x-secret value of the merged values.
type secretLeaf struct {
	pointer string
	value   string
}

// secretValues are the x-secret leaves of the values (the schema decides),
// at least minSecretLen long.
func secretValues(t *testing.T, tree map[string]any) []secretLeaf {
	t.Helper()
	s, err := schema.Load("values-schema.yaml", platformfs.ValuesSchema)
	require.NoError(t, err)
	var out []secretLeaf
	for _, ptr := range s.SecretPointers(tree) {
		v, ok := values.Get(tree, ptr)
		if !ok {
			continue
		}
		var str string
		switch t := v.(type) {
		case string:
			str = t
		case map[string]any, []any:
			continue // a secret subtree: its leaves are checked through its scalars below
		default:
			str = fmt.Sprint(t)
		}
		if len(str) >= minSecretLen {
			out = append(out, secretLeaf{ptr, str})
		}
	}
	return out
}

// leak is a secret value found outside a Secret.
type leak struct {
	release, object, path, secret string
}

func (l leak) String() string {
	return fmt.Sprintf("release %s, %s, at %s: the value of %s", l.release, l.object, l.path, l.secret)
}

// scanForSecrets walks every field (keys and values) of every object but
// Secrets and reports the places that hold a secret value, as is or
// base64-encoded.
func scanForSecrets(manifests []*render.Manifest, secrets []secretLeaf) []leak {
	type needle struct{ text, pointer string }
	var needles []needle
	for _, s := range secrets {
		needles = append(needles, needle{s.value, s.pointer},
			needle{base64.StdEncoding.EncodeToString([]byte(s.value)), s.pointer + " (base64)"})
	}
	var out []leak
	for _, m := range manifests {
		for _, o := range m.Objects {
			if o.Kind == "Secret" && o.APIVersion == "v1" {
				continue
			}
			var walk func(v any, path string)
			check := func(s, path string) {
				for _, n := range needles {
					if strings.Contains(s, n.text) {
						out = append(out, leak{m.Release.Name, o.Ref(), path, n.pointer})
					}
				}
			}
			walk = func(v any, path string) {
				switch t := v.(type) {
				case map[string]any:
					keys := make([]string, 0, len(t))
					for k := range t {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						p := path + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
						check(k, p)
						walk(t[k], p)
					}
				case []any:
					for i, c := range t {
						walk(c, path+"/"+strconv.Itoa(i))
					}
				case string:
					check(t, path)
				case nil:
				default:
					check(fmt.Sprint(t), path)
				}
			}
			walk(o.Body, "")
		}
	}
	return out
}

// everyApp is a state values layer that turns on every app one of the
// platform's releases follows: every chart of this checkout renders.
func everyApp(t *testing.T, releases []*render.Release) string {
	t.Helper()
	apps := map[string]any{}
	for _, r := range releases {
		if app := r.Labels["app"]; app != "" && app != "base" && app != "team-ns" {
			apps[app] = map[string]any{"enabled": true}
		}
	}
	data, err := yaml.Marshal(map[string]any{"apps": apps})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "every-app.yaml")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	return file
}

// TestNoSecretOutsideSecrets: rendering the whole example platform - every
// app of every chart in this checkout on - puts no x-secret value of the
// values into any object but a Secret: not a ConfigMap, an env value, an
// argument, an annotation, a label or any other field.
func TestNoSecretOutsideSecrets(t *testing.T) {
	_, releases, _ := renderWithValues(t, cmdutil.RenderFlags{})
	tree, releases, manifests := renderWithValues(t, cmdutil.RenderFlags{StateValuesFiles: []string{everyApp(t, releases)}})
	charts := map[string]bool{}
	for _, r := range releases {
		require.True(t, r.Installed, "every app is on: %s", r.Name)
		charts[filepath.Base(r.Chart)] = true
	}
	dirs, err := os.ReadDir(filepath.Join(repoRoot(t), "charts"))
	require.NoError(t, err)
	for _, d := range dirs {
		if d.IsDir() {
			assert.True(t, charts[d.Name()], "chart %s renders in no release", d.Name())
		}
	}
	secrets := secretValues(t, tree)
	require.GreaterOrEqual(t, len(secrets), 5, "the example has secrets to look for")
	for _, l := range scanForSecrets(manifests, secrets) {
		t.Error(l)
	}
	// The scan sees secrets where they belong: in Secrets.
	inSecrets := 0
	for _, m := range manifests {
		for _, o := range m.Objects {
			if o.Kind == "Secret" {
				for _, s := range secrets {
					if strings.Contains(o.YAML, base64.StdEncoding.EncodeToString([]byte(s.value))) || strings.Contains(o.YAML, s.value) {
						inSecrets++
					}
				}
			}
		}
	}
	assert.Positive(t, inSecrets, "secret values reach Secrets")
	t.Logf("%d secret values, %d objects, %d uses in Secrets", len(secrets), countObjects(manifests), inSecrets)
}

func countObjects(manifests []*render.Manifest) int {
	n := 0
	for _, m := range manifests {
		n += len(m.Objects)
	}
	return n
}

// TestNoSecretOutsideSecretsExternalDNS: every DNS provider's credentials
// (x-secret) reach ExternalDNS only through its Secret.
func TestNoSecretOutsideSecretsExternalDNS(t *testing.T) {
	providers := map[string]string{
		"aws":        "aws:\n      region: eu-west-1\n      credentials:\n        accessKey: AKIAEXAMPLEACCESSKEY\n        secretKey: example-aws-secret-key-0123456789",
		"azure":      "azure:\n      tenantId: tenant-0001\n      subscriptionId: sub-0001\n      resourceGroup: dns\n      aadClientId: client-0001\n      aadClientSecret: example-azure-client-secret",
		"google":     "google:\n      project: demo-project\n      serviceAccountKey: '{\"type\": \"service_account\", \"private_key\": \"example-google-key\"}'",
		"cloudflare": "cloudflare:\n      apiToken: example-cloudflare-token-0123\n      proxied: true",
		"linode":     "linode:\n      apiToken: example-linode-token-0123",
		"rfc2136":    "rfc2136:\n      host: ns1.demo.otomi.example\n      port: 53\n      zone: demo.otomi.example\n      tsigKeyname: externaldns\n      tsigSecret: ZXhhbXBsZS10c2lnLXNlY3JldA==\n      tsigSecretAlg: hmac-sha256",
	}
	for name, provider := range providers {
		t.Run(name, func(t *testing.T) {
			layer := filepath.Join(t.TempDir(), "dns.yaml")
			// The demo's provider (aws, with a role) gives way.
			text := "dns:\n  provider:\n    " + provider + "\n"
			if name != "aws" {
				text = "dns:\n  provider:\n    aws: null\n    " + provider + "\n"
			}
			require.NoError(t, os.WriteFile(layer, []byte(text), 0o600))
			tree, _, manifests := renderWithValues(t, cmdutil.RenderFlags{Selectors: []string{"app=external-dns"}, StateValuesFiles: []string{layer}})
			secrets := secretValues(t, tree)
			var dns []secretLeaf
			for _, s := range secrets {
				if strings.HasPrefix(s.pointer, "/dns/") {
					dns = append(dns, s)
				}
			}
			require.NotEmpty(t, dns, "the provider has credentials")
			for _, l := range scanForSecrets(manifests, secrets) {
				t.Error(l)
			}
			require.Len(t, manifests, 1)
			var secret string
			for _, o := range manifests[0].Objects {
				if o.Kind == "Secret" {
					secret = o.YAML
				}
			}
			for _, s := range dns {
				assert.Contains(t, secret, base64.StdEncoding.EncodeToString([]byte(s.value))[:8], "%s is in the Secret", s.pointer)
			}
		})
	}
}

// TestSecretScanFindsLeaks: the scan reports a planted leak with its place.
func TestSecretScanFindsLeaks(t *testing.T) {
	m, err := render.NewManifest(&render.Release{Name: "leaky", Chart: "raw"}, `apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: demo
  annotations:
    token: "aGlkZGVuLXZhbHVl"
data:
  url: https://user:hidden-value@example.com
---
apiVersion: v1
kind: Secret
metadata:
  name: ok
  namespace: demo
stringData:
  password: hidden-value
`)
	require.NoError(t, err)
	leaks := scanForSecrets([]*render.Manifest{m}, []secretLeaf{{"/apps/x/password", "hidden-value"}})
	var got []string
	for _, l := range leaks {
		got = append(got, l.String())
	}
	assert.ElementsMatch(t, []string{
		"release leaky, ConfigMap/demo/cfg, at /data/url: the value of /apps/x/password",
		"release leaky, ConfigMap/demo/cfg, at /metadata/annotations/token: the value of /apps/x/password (base64)",
	}, got)
}
