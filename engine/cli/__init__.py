"""The command line: the click app, one function per verb, the options that build a request,
and the one error handler that maps failures to exit codes. Thin: it parses, calls one
function of `engine.modes`, and renders what comes back."""
