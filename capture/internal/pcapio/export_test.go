package pcapio

// Mapped reports whether the reader reads a mapped file.
func (r *Reader) Mapped() bool { return r.mapped != nil }
