"""Where articles come from: feeds, WordPress sites, and files exported by the newsroom."""
