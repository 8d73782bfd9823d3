"""The portal's logic: views call these and translate their domain errors."""
