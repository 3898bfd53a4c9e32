"""Meeting scheduling: find a free time, create the Teams meeting through Graph as the signed-in organizer."""
