package sqlitestore

// u64 bit-casts a uint64 to the int64 an INTEGER column holds (database/sql refuses uint64 values
// of 2^63 and above); reading it back as int64 and converting restores it.
func u64(v uint64) int64 { return int64(v) }
