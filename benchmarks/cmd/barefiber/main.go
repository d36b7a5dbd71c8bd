// Command barefiber is the baseline of the hit-path benchmark (benchmarks/hitpath.sh): a bare
// Fiber app with one POST handler that answers with fixed bytes and Content-Type, taken from a
// real response of the full neko server, so that both servers put the same bytes on the wire.
//
//	barefiber -addr 127.0.0.1:18081 -body body.json -content-type application/json [-headers h.txt]
package main

import (
	"flag"
	"log"
	"os"
	"strings"

	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	bodyFile := flag.String("body", "", "file holding the response body")
	contentType := flag.String("content-type", "application/json", "response Content-Type")
	path := flag.String("path", "/graphql", "route of the POST handler")
	headersFile := flag.String("headers", "", "file of extra response headers, one 'Name: value' per line (to send the same header bytes as neko)")
	flag.Parse()
	var extra [][2]string
	if *headersFile != "" {
		b, err := os.ReadFile(*headersFile)
		if err != nil {
			log.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
				extra = append(extra, [2]string{k, v})
			}
		}
	}
	body := []byte(`{"data":{}}`)
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			log.Fatal(err)
		}
		body = b
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post(*path, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, *contentType)
		for _, kv := range extra {
			c.Set(kv[0], kv[1])
		}
		return c.Send(body)
	})
	log.Fatal(app.Listen(*addr))
}
