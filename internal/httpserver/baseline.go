package httpserver

import (
	"encoding/json"
	"net/http"
)

// Baseline is the trivial JSON handler that pushlab's HTTP figures are measured against: it
// decodes the request body and answers a name, as an FCM send's answer does, and nothing else.
// The bench's fakefcm ratio and fakefcm's handler benchmark both use it, so that they compare
// against the same thing.
func Baseline() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": "projects/demo/messages/1"})
	})
}
