package server

import (
	"fmt"
	"net/http"

	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/console"
)

// newConsole makes the console the relay serves at /console/. It calls the admin API through
// the relay's own handler, in-process: the same routes, checks and answers as a remote client.
func (s *Server) newConsole(h http.Handler) (*console.Console, error) {
	api := &client.Admin{BaseURL: "http://relay.in-process", Key: s.cfg.AdminKey.Reveal(),
		HTTP: &http.Client{Transport: httpserver.InProcess{Handler: h}}}
	c, err := console.New(console.Config{AdminKey: s.cfg.AdminKey, API: api, Now: s.clock, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("relay server: %w", err)
	}
	return c, nil
}
