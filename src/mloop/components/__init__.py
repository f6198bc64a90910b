"""mloop.components: arrives with its own issue; see DESIGN.md for what lives here."""
