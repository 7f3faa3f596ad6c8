"""zcells Dash application: reads artifacts only and explores SOM cells."""
