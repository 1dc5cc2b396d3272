//! Analytics: subscribes to readings and flags high consumption and thirsty trees.
