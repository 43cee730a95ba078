# weft-profile: tcp-echo 127.0.0.1:7314 payload 64
set terminal pngcairo size 1200,500 font 'sans,10'
set output 'docs/images/profile-echo.png'
set datafile missing '?'
$steps << EOD
1 5629 0 136.191 358.399 675.839 2768.89
2 16422 0 109.055 185.343 700.415 2899.97
4 73837 0 41.727 92.671 164.863 464.895
8 98893 0 78.335 107.007 171.007 246.783
16 90801 0 168.959 211.967 280.575 708.607
32 78457 0 387.071 501.759 700.415 1695.74
64 75578 0 790.527 987.135 1957.89 4751.36
128 67221 0 1794.05 2277.38 5668.86 7569.41
256 70598 0 3424.26 4423.68 10944.5 13828.1
EOD
set multiplot layout 1,2 title 'weft-profile: tcp-echo 127.0.0.1:7314 payload 64'
set grid
set key top left
set logscale x 2
set xtics (1, 2, 4, 8, 16, 32, 64, 128, 256)
set xrange [0.8:320]
set xlabel 'concurrency (requests in flight)'
set ylabel 'requests/s'
set yrange [0:*]
usl(n) = 23754.2 * n / (1 + 0.212511 * (n - 1) + 0.000801156 * n * (n - 1))
set arrow from 8, graph 0 to 8, graph 1 nohead dashtype 3 lc rgb 'red'
set label 'knee 8' at 8, graph 0.95 left offset 1,0 tc rgb 'red'
plot $steps using 1:2 title 'achieved' with linespoints pt 7 lw 2, usl(x) title 'USL fit' with lines dashtype 2 lc rgb 'gray'
set ylabel 'latency (µs)'
set logscale y 10
set yrange [*:*]
unset label
plot $steps using 1:4 title 'p50' with linespoints pt 7, $steps using 1:5 title 'p90' with linespoints pt 7, $steps using 1:6 title 'p99' with linespoints pt 7, $steps using 1:7 title 'p99.9' with linespoints pt 7
unset multiplot
