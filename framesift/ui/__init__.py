"""The browser UI: pages served by framesift's HTTP server, on the services' own JSON APIs."""
