"""Sources and sinks as Faust agents and timers: the runtime (runners) and the connector catalog."""
