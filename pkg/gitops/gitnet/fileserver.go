package gitnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// go-git's own file:// transport runs the git-upload-pack and
// git-receive-pack programs of an installed git. otomi serves local
// repositories in process instead (go-git's server), so that no git binary
// is needed; the server refuses non-fast-forward updates of branches, as
// git's receive.denyNonFastForwards does. Server-side hooks of a local bare
// repository do not run.
// InstallFileTransport makes go-git serve file:// remotes in process (once
// per process).
var InstallFileTransport = sync.OnceFunc(func() {
	client.InstallProtocol("file", fileTransport{})
})

type fileTransport struct{}

func (fileTransport) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	st, err := localLoader{}.Load(ep)
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(loaded{st}).NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	return knownHaves{s, st}, nil
}

func (fileTransport) NewReceivePackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.ReceivePackSession, error) {
	return server.NewServer(localLoader{receive: true}).NewReceivePackSession(ep, auth)
}

// loaded is a Loader of a storer already opened.
type loaded struct{ st storer.Storer }

func (l loaded) Load(*transport.Endpoint) (storer.Storer, error) { return l.st, nil }

// knownHaves drops the commits the client has that the server does not
// know from an upload-pack request, as git does; go-git's server fails on
// them ("object not found") when the client has commits of its own.
type knownHaves struct {
	transport.UploadPackSession
	st storer.Storer
}

func (k knownHaves) UploadPack(ctx context.Context, req *packp.UploadPackRequest) (*packp.UploadPackResponse, error) {
	haves := req.Haves[:0:0]
	for _, h := range req.Haves {
		if k.st.HasEncodedObject(h) == nil {
			haves = append(haves, h)
		}
	}
	req.Haves = haves
	return k.UploadPackSession.UploadPack(ctx, req)
}

// localLoader opens the repository at an endpoint's path: a bare one, or
// the .git of a work tree (read only: pushing into a checked-out work tree
// is refused, as git does by default).
type localLoader struct{ receive bool }

func (l localLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	dir := filepath.FromSlash(ep.Path)
	isDir := func(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }
	isFile := func(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }
	switch {
	case isFile(filepath.Join(dir, "HEAD")) && isDir(filepath.Join(dir, "objects")) && isDir(filepath.Join(dir, "refs")):
	case isDir(filepath.Join(dir, ".git")):
		if l.receive {
			return nil, fmt.Errorf("%s is a work tree, not a bare repository: push to a bare repository (git init --bare)", dir)
		}
		dir = filepath.Join(dir, ".git")
	default:
		return nil, transport.ErrRepositoryNotFound
	}
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	if !l.receive {
		return st, nil
	}
	return ffOnlyStorage{st}, nil
}

// ffOnlyStorage refuses to move a branch to a commit that does not descend
// from where it is now: a concurrent push that landed after the client
// looked cannot be overwritten.
type ffOnlyStorage struct{ *filesystem.Storage }

func (s ffOnlyStorage) SetReference(ref *plumbing.Reference) error {
	if ref.Type() == plumbing.HashReference && ref.Name().IsBranch() {
		cur, err := s.Storage.Reference(ref.Name())
		if err == nil && cur.Type() == plumbing.HashReference && cur.Hash() != ref.Hash() {
			ok, err := descends(s.Storage, cur.Hash(), ref.Hash())
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("non-fast-forward update of %s refused", ref.Name().Short())
			}
		} else if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return err
		}
		return s.Storage.CheckAndSetReference(ref, cur)
	}
	return s.Storage.SetReference(ref)
}

// descends reports whether commit next has old among its ancestors.
func descends(s storer.EncodedObjectStorer, old, next plumbing.Hash) (bool, error) {
	oc, err := object.GetCommit(s, old)
	if err != nil {
		return false, err
	}
	nc, err := object.GetCommit(s, next)
	if err != nil {
		return false, err
	}
	return oc.IsAncestor(nc)
}
