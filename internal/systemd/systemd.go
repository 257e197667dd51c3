package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// JobPathPrefix is where systemd puts its job objects: job N is
// JobPathPrefix + "N".
const JobPathPrefix = "/org/freedesktop/systemd1/job/"

// Conn is a connection to systemd's manager over D-Bus.
type Conn struct {
	c       *sddbus.Conn
	address string
	ctx     context.Context    // the underlying bus connections' own context
	cancel  context.CancelFunc // ends ctx: closes the underlying bus connections
}

// Close closes the connection. It is safe on a nil Conn.
func (c *Conn) Close() {
	if c == nil {
		return
	}
	c.c.Close()
	c.cancel()
}

// systemBusAddress is the system bus address as libdbus finds it:
// $DBUS_SYSTEM_BUS_ADDRESS, else the standard socket.
func systemBusAddress() string {
	if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		return a
	}
	return "unix:path=/run/dbus/system_bus_socket"
}

// Connect connects to the system bus or, when address != "", to the bus
// at that D-Bus address (such as "unix:path=/run/x/bus"). ctx bounds the
// connection's setup only (dial, authentication, Hello): when it ends
// first, Connect closes what it opened and returns an error wrapping
// ctx's; once Connect returns, the connection lives until Close.
func Connect(ctx context.Context, address string) (*Conn, error) {
	if address == "" {
		address = systemBusAddress()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connecting to D-Bus at %s: %w", address, err)
	}
	// go-systemd's NewSystemConnectionContext would tie the connection's
	// lifetime to ctx (godbus closes a connection when its context ends)
	// and would not interrupt a dial, authentication or Hello that hangs.
	// Instead the connections get a context of their own, cancelled when
	// ctx ends during setup, or by Close.
	connCtx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	uid := strconv.Itoa(os.Geteuid()) // what the kernel reports to the bus for this socket
	dial := func() (*godbus.Conn, error) {
		bc, err := godbus.Dial(address, godbus.WithContext(connCtx))
		if err != nil {
			return nil, err
		}
		if err := bc.Auth([]godbus.Auth{godbus.AuthExternal(uid)}); err != nil {
			bc.Close()
			return nil, fmt.Errorf("authenticating: %w", err)
		}
		if err := bc.Hello(); err != nil {
			bc.Close()
			return nil, fmt.Errorf("Hello: %w", err)
		}
		return bc, nil
	}
	c, err := sddbus.NewConnection(dial)
	if !stop() {
		// ctx ended during setup: the connections were (or are being)
		// closed under go-systemd, whatever it returned.
		if c != nil {
			c.Close()
		}
		cancel()
		return nil, fmt.Errorf("connecting to D-Bus at %s: %w", address, context.Cause(ctx))
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("connecting to D-Bus at %s: %w", address, err)
	}
	return &Conn{c: c, address: address, ctx: connCtx, cancel: cancel}, nil
}

// StartUnit asks systemd's manager to start unit (mode "replace": the
// start job replaces any conflicting queued job) and returns the path of
// the job systemd queued (JobPathPrefix + its number). It does not wait
// for the job to finish. A D-Bus error reply (org.freedesktop.systemd1.NoSuchUnit,
// org.freedesktop.DBus.Error.AccessDenied, ...) is returned wrapped, its
// name in the message; errors.As gives the godbus.Error.
//
// go-systemd passes on only the job's number, taken from the end of the
// path systemd returned; the path is rebuilt from it. When systemd's
// reply does not end in a number, job is "" and err is nil (the start was
// queued).
func StartUnit(ctx context.Context, conn *Conn, unit string) (job string, err error) {
	if conn == nil {
		return "", errors.New("systemd: StartUnit on a nil connection")
	}
	kind, err := checkUnitName(unit)
	if err != nil {
		return "", err
	}
	if kind == kindTemplate {
		return "", fmt.Errorf("systemd unit %s is a template: it needs an instance name (see UnitForRepo)", unit)
	}
	id, err := conn.c.StartUnitContext(ctx, unit, "replace", nil)
	if err != nil {
		if name := errorName(err); name != "" {
			return "", fmt.Errorf("starting %s: %s: %w", unit, name, err)
		}
		return "", fmt.Errorf("starting %s through D-Bus at %s: %w", unit, conn.address, err)
	}
	if id <= 0 {
		return "", nil
	}
	return path.Join(JobPathPrefix, strconv.Itoa(id)), nil
}

// errorName is the D-Bus error name in err's chain, or "". godbus returns
// an error reply as a godbus.Error value whose Error() is only the
// message, hence the name in StartUnit's errors.
func errorName(err error) string {
	var de godbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *godbus.Error
	if errors.As(err, &dp) && dp != nil {
		return dp.Name
	}
	return ""
}
