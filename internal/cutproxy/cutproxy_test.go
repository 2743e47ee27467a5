package cutproxy

import (
	"bufio"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoServer answers every line it reads with the same line, on a loopback port.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip writes a line on c and reads it back.
func roundTrip(c net.Conn, line string) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// A proxy forwards until cut; cut, its connections end and new ones are closed at once;
// healed, it forwards again.
func TestProxyForwardsUntilCutAndAgainOnceHealed(t *testing.T) {
	p, err := Start("tcp", echoServer(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	got, err := roundTrip(c, "hello")
	require.NoError(t, err)
	require.Equal(t, "hello\n", got)

	p.Cut(true)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second))) // a proxy that keeps it fails, not hangs
	_, err = bufio.NewReader(c).ReadString('\n')                          // the open connection ends
	require.NotErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Error(t, err)
	refused, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err, "the port still accepts (as a cut network would not answer)")
	defer refused.Close()
	require.NoError(t, refused.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = roundTrip(refused, "anyone?")
	require.Error(t, err, "a connection accepted while cut is closed")
	require.NotErrorIs(t, err, os.ErrDeadlineExceeded)

	p.Cut(false)
	healed, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer healed.Close()
	got, err = roundTrip(healed, "again")
	require.NoError(t, err)
	require.Equal(t, "again\n", got)
}
