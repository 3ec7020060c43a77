package media

// LoadStereo lends the external tests the internal tests' WAV reader.
var LoadStereo = loadStereo
