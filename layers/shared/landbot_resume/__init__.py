"""landbot-resume: resume a parked Landbot bot when an outside process completes."""
