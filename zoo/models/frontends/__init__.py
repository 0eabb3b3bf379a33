"""Front-ends: how the CNN meets the signal (Pons, 'personal (re)view', Figure 2)."""
