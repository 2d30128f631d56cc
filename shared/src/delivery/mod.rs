pub mod meter_series;
