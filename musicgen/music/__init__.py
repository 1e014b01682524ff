"""Reading and writing music: files to :class:`~musicgen.music.piece.Piece` and back, instruments, analysis, rendering."""
