package server

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// filesOnly serves the files of fsys through fileServer and answers 404
// for a directory (no listings) or anything that is not a regular file.
func (s *Server) filesOnly(fileServer http.Handler, fsys fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		fi, err := fs.Stat(fsys, name)
		if name == "" || err != nil || !fi.Mode().IsRegular() || strings.HasSuffix(r.URL.Path, "/") {
			orig := r.Clone(r.Context())
			orig.URL.Path = "/vct/" + strings.TrimPrefix(r.URL.Path, "/")
			writeError(w, orig, s.log, errcode.New(errcode.NotFound, "no such document"))
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}
