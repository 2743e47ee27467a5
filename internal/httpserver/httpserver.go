// Package httpserver holds the HTTP server settings every pushlab listener shares: limits that
// keep slow or stalled clients from holding the server's resources.
package httpserver

import (
	"net/http"
	"time"
)

// New is the HTTP server for h, with limits against slow clients: headers must arrive within
// 10 s and the whole request, body included, within 30 s (a client that stalls is answered or
// cut off, whichever fits, and holds nothing longer); an idle keep-alive connection is closed
// after 2 min. Handlers may take longer than that to answer (net/http stops the read deadline
// once the body has been read), and an upgraded WebSocket is no longer under them.
func New(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
}
