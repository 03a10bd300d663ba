"""The 31 普瑞斯堡 issues of the survey and after, as data, and their replay on the script clock."""

from __future__ import annotations

from .context import CHINA_OFFSET, DAY, HOUR, DemoContext, epoch
from .replay import IssueLife, IssueWorld, ancestors

# One issue of the 普瑞斯堡 survey and after: (category, title, description, building, place, urgency,
# filing 邻 — None for the demo 邻长's own —, (resident, phone), steps). A step is (when, op, who, *args);
# `when` is ("d", days ago, "HH:MM" Beijing time), ("h", daytime hours ago) for what must sit just before
# the load, or a number of hours after the previous step (see _script_time). The steps read as the
# lifecycle and triage do: file, ack, start, resolve, callback, escalate, withdraw; reject (a reason of
# the reject_reason table by its place in the list, and a note), dup (the kept issue's index, a note or
# "" for the default), priority; assign (party, days to the deadline, note), accept and decline (by the
# party's staff); and the timeline's update (public), note (internal) and comment.
PRUISBURG_ISSUES: tuple = (
    (
        "road", "北门至5栋主干道路面大面积破损",
        "北门进来到5栋的主干道沥青路面龟裂、坑洼连片，最深的坑约10厘米，雨天积水看不清，上个月有老人在这里摔倒。"
        "居民反映这条路十几年没有修过。",
        "5栋", "北门至5栋主干道", "normal", None, ("王奶奶", "19700000101"),
        (
            (("d", 168, "09:10"), "file"),
            (0.1, "escalate", "filer", "路面整体破损，涉及全小区居民出行，超出本邻协调范围"),
            (2.5, "ack", "handler", "已到现场查看，破损面积约600平方米"),
            (1, "escalate", "handler", "需要整体翻修，请片长统筹"),
            (22, "escalate", "zone", "建议纳入普瑞斯堡老旧小区改造一期"),
            (23, "assign", "branch", "office", 45, "纳入老旧小区改造一期（湖南出版投资控股集团捐资），由街道组织施工"),
            (3, "accept"),
            (1, "update", "org", "施工方案已确定"),
            (240, "update", "branch", "一期改造施工单位已进场，主干道分段封闭施工，请居民从南门绕行"),
            (700, "resolve", "org", "主干道约600平方米沥青路面铣刨重铺完成，已通过街道、社区和居民代表联合验收"),
            (70, "callback", "satisfied", "回访王奶奶等3户居民，都说路面平整了，晚上走路也放心"),
        ),
    ),
    (
        "cctv", "小区监控系统基本瘫痪",
        "全小区32个监控摄像头只有3个有画面，监控室的硬盘录像机坏了两年没人修。近一个月4栋、7栋楼下接连发生"
        "3起电动车电瓶被盗，居民很担心。",
        None, "监控室及全小区", "normal", None, ("张先生", ""),
        (
            (("d", 167, "10:05"), "file"),
            (0.1, "escalate", "filer", "全小区安防问题，需逐级上报"),
            (3, "ack", "handler", "监控室设备已确认损坏"),
            (1, "escalate", "handler", "系统需整体更换，请片长协调"),
            (4.5, "escalate", "zone", "电瓶被盗频发，建议社区尽快处置"),
            (15, "escalate", "branch", "系统整体更换约需28万元，社区无力承担，上报街道统筹改造资金"),
            (24, "assign", "street", "office", 40, "由街道改造办纳入一期改造，湖南出版投资控股集团赞助"),
            (2, "accept"),
            (1, "update", "org", "已委托安防公司现场勘测"),
            (406, "update", "branch", "监控设备采购已完成招标，下周开始安装"),
            (504, "resolve", "org", "新装高清摄像头48个，更换硬盘录像机并接入派出所视频平台，监控室恢复24小时值守"),
            (52, "callback", "satisfied", "居民反映晚上回家安心多了，近期没有再发生电瓶被盗"),
        ),
    ),
    (
        "lighting", "2栋至6栋主干道路灯锈蚀、灯光昏暗",
        "主干道两侧16盏路灯灯杆底部锈穿，有2根明显倾斜；灯泡老化，晚上照度很低，居民夜间出行只能打手电，"
        "存在安全隐患。",
        None, "2栋至6栋主干道", "normal", None, ("李阿姨", ""),
        (
            (("d", 166, "19:40"), "file"),
            (13, "ack", "handler", "已夜间查看，16盏中9盏不亮"),
            (2, "assign", "branch", "property", 45, "路灯及灯杆属小区公共设施，由普瑞物业纳入一期改造更换"),
            (1, "accept"),
            (0.5, "update", "org", "已订购LED灯具"),
            (6, "update", "org", "2根倾斜灯杆已临时加固并设置警示"),
            (888, "resolve", "org", "更换LED路灯16盏，锈蚀灯杆全部除锈刷漆，倾斜灯杆重新浇筑基础扶正"),
            (50, "callback", "satisfied", "主干道晚上亮堂了，居民很满意"),
        ),
    ),
    (
        "signage", "楼栋号牌褪色，快递和救护车常找错楼",
        "1栋至12栋的楼栋号牌和单元牌大多褪色、脱落，快递外卖经常送错，上个月120急救车找不到11栋，耽误了十多分钟。",
        None, "1栋至12栋各楼栋", "normal", None, ("赵先生", ""),
        (
            (("d", 165, "09:30"), "file"),
            (1.5, "ack", "handler"),
            (0.5, "start", "handler", "社区志愿者和物业一起统计需更换的号牌"),
            (50, "resolve", "handler", "重新制作安装楼栋号牌12块、单元牌24块，夜间可反光"),
            (30, "callback", "satisfied", ""),
        ),
    ),
    (
        "fire", "多栋楼消防栓无水、水带水枪缺失",
        "走访发现1栋至12栋共48处室内消火栓，有31处打开没有水，多数箱内水带、水枪缺失，消防管网锈蚀漏水，"
        "一旦发生火灾后果严重。",
        None, "1栋至12栋楼道", "normal", None, ("", ""),
        (
            (("d", 164, "10:20"), "file"),
            (0.1, "escalate", "filer", "全小区消防设施问题，超出本邻范围"),
            (2, "ack", "handler"),
            (1, "escalate", "handler", "需物业对消防系统整体维修，请片长协调"),
            (4, "escalate", "zone", "消防安全隐患大，请社区督促物业"),
            (19, "priority", "branch", "high"),
            (1, "assign", "branch", "property", 75, "责成普瑞物业对消防系统整体改造，物业出资47万元"),
            (1, "accept"),
            (2, "update", "org", "已委托消防工程公司检测管网"),
            (600, "update", "org", "消防主管网更换完成约六成，施工期间各楼栋配置临时灭火器"),
            (900, "resolve", "org", "更换消防主管网和48处消火栓箱及水带水枪，消防水泵房设备更新，经第三方消防检测合格"),
            (48, "callback", "satisfied", "居民代表参加了放水测试，每个消火栓都有水"),
        ),
    ),
    (
        "road", "3栋前人行道地砖松动翘起",
        "3栋门口到主干道的人行道有几十块地砖松动、翘起，下雨踩上去会溅水，老人推婴儿车不方便。",
        "3栋", "3栋门口人行道", "normal", None, ("孙阿姨", ""),
        (
            (("d", 163, "15:20"), "file"),
            (1.5, "ack", "handler"),
            (17, "start", "handler", "已通知物业安排维修"),
            (26, "resolve", "handler", "物业更换松动、破损地砖约30块"),
            (26, "callback", "satisfied", ""),
        ),
    ),
    (
        "lighting", "7栋后小路路灯不亮",
        "7栋后面通往后门的小路3盏路灯都不亮，台阶多，晚上看不清，前几天有老人摔倒。",
        "7栋", "7栋后门小路", "normal", "7栋1单元", ("周大爷", ""),
        (
            (("d", 162, "20:10"), "file"),
            (12.5, "ack", "handler"),
            (0.5, "start", "handler", "已通知物业电工"),
            (6, "resolve", "handler", "物业电工更换灯具3套并检修线路"),
            (30, "callback", "satisfied", ""),
        ),
    ),
    (
        "sanitation", "5栋旁垃圾投放点异味大、清运不及时",
        "5栋旁的垃圾分类投放点每天只清运一次，下午垃圾满溢，天热异味很大，蚊蝇多，附近住户不敢开窗。",
        "5栋", "5栋旁垃圾分类投放点", "normal", None, ("吴女士", "19700000108"),
        (
            (("d", 161, "08:50"), "file"),
            (3, "ack", "handler"),
            (1, "start", "handler", "已联系环卫公司"),
            (40, "resolve", "handler", "与环卫公司协调，清运由每天一次增加为早晚各一次，投放点每天冲洗消杀"),
            (48, "callback", "basically_satisfied", "清运及时了，天热时仍有些异味"),
        ),
    ),
    (
        "drainage", "7栋化粪池满溢、污水外冒",
        "7栋化粪池满了，污水从井盖冒出来流到路面，臭味很大，1楼住户家里下水道返水。",
        "7栋", "7栋东侧化粪池", "urgent", "7栋2单元", ("郑先生", "19700000109"),
        (
            (("d", 158, "08:05"), "file"),
            (0.6, "ack", "handler"),
            (0.3, "start", "handler", "已通知物业紧急处理"),
            (9, "resolve", "handler", "物业联系吸污车清掏化粪池，疏通出户管道，现场冲洗消毒"),
            (48, "callback", "satisfied", ""),
        ),
    ),
    (
        "greenery", "中心花园枯死香樟树有倒伏风险",
        "中心花园两棵香樟树已经枯死，树干空心，刮大风时摇晃厉害，树下是老人小孩活动的地方。",
        None, "中心花园", "normal", None, ("", ""),
        (
            (("d", 150, "10:00"), "file"),
            (2, "ack", "handler"),
            (3, "start", "handler", "已拉警戒线，联系园林公司"),
            (45, "resolve", "handler", "园林公司砍伐枯树2棵，补种桂花树2棵"),
            (72, "callback", "satisfied", ""),
        ),
    ),
    (
        "fire", "12栋楼道烟感按测试键不响",
        "12栋2单元各层楼道的烟感探测器按测试键都没有反应，担心真着火了不报警。",
        "12栋", "12栋2单元楼道", "normal", "12栋2单元", ("冯先生", ""),
        (
            (("d", 61, "19:30"), "file"),
            (14, "ack", "handler"),
            (2, "dup", "branch", 14, ""),
        ),
    ),
    (
        "road", "小区南侧进出道路狭窄坑洼、会车困难",
        "小区南侧唯一的进出道路宽不足5米，路面坑洼，早晚高峰车辆进出要排队，消防车无法进入，雨天积水严重。"
        "这条路是开发商当年没有按规划建成的。",
        None, "南门进出道路", "normal", None, ("陈先生", "19700000112"),
        (
            (("d", 138, "09:00"), "file"),
            (0.1, "escalate", "filer", "涉及小区进出道路改造，超出本邻范围"),
            (2, "ack", "handler"),
            (1, "escalate", "handler", "需开发商和社区协调，请片长上报"),
            (6, "escalate", "zone", "道路属开发商遗留问题，请社区协调"),
            (25, "priority", "branch", "high"),
            (1, "assign", "branch", "developer", 200, "经社区多次协调，开发商湘瑞置业同意出资实施进出道路改造"),
            (5, "accept"),
            (20, "update", "org", "已委托设计单位出具道路拓宽方案"),
            (300, "update", "branch", "开发商承诺出资近400万元，道路由5米拓宽至7米并新建人行道和雨水管网"),
            (1200, "update", "org", "雨水管网迁改完成，路基施工中"),
            (("h", 40), "update", "org", "沥青摊铺计划下月完成，施工期间南门限高通行"),
        ),
    ),
    (
        "road", "南门外道路坑洼、雨天泥泞",
        "南门出去的路坑坑洼洼，一下雨全是泥水，接送孩子上学很不方便。",
        None, "南门外道路", "normal", "10栋1单元", ("何女士", ""),
        (
            (("d", 120, "14:00"), "file"),
            (5, "dup", "branch", 11, "与“小区南侧进出道路狭窄坑洼、会车困难”为同一问题，已并入一并处理"),
        ),
    ),
    (
        "fire", "5栋北侧消防通道被私家车长期占用",
        "5栋北侧消防通道常年停着四五辆私家车，有一辆已经停了半年没动，消防车根本进不来。",
        "5栋", "5栋北侧消防通道", "normal", "5栋2单元", ("", ""),
        (
            (("d", 110, "19:00"), "file"),
            (14, "ack", "handler"),
            (1, "start", "handler", "已联系物业逐一劝离"),
            (30, "resolve", "handler", "物业施划消防通道禁停标线、安装地桩，占道车辆全部挪走"),
            (48, "callback", "satisfied", ""),
        ),
    ),
    (
        "fire", "12栋消防报警主机故障、烟感不报警",
        "12栋消防控制柜一直报故障，楼道烟感测试不报警，物业说主机太老了。12栋是高层，住了80多户。",
        "12栋", "12栋消防控制室", "normal", "12栋1单元", ("", ""),
        (
            (("d", 62, "09:40"), "file"),
            (2, "ack", "handler"),
            (0.5, "priority", "branch", "high"),
            (0.5, "assign", "branch", "property", 30, "纳入普瑞物业消防系统改造"),
            (2, "accept"),
            (1, "update", "org", "已联系厂家返修报警主机"),
            (48, "update", "org", "报警主机已停产，需整体更换，正在报价"),
            (("h", 12), "update", "org", "新主机已到货，下周安装调试，期间物业每天人工巡查"),
        ),
    ),
    (
        "parking", "电动车充电桩不足，楼道飞线充电隐患大",
        "小区300多辆电动车只有一处8个口的充电桩，很多居民从楼上拉线下来充电，楼道里也有人充电，火灾隐患很大。",
        None, "全小区", "normal", None, ("", ""),
        (
            (("d", 95, "10:30"), "file"),
            (0.1, "escalate", "filer", "涉及全小区，需统筹"),
            (3, "ack", "handler"),
            (1, "escalate", "handler", "需新建充电设施，请片长协调"),
            (20, "escalate", "zone", "建议纳入改造二期"),
            (24, "update", "branch", "已纳入改造二期，拟在5栋、9栋旁新建充电车棚2处，资金来自居民捐款"),
            (24, "start", "branch", "选址方案已征求居民意见"),
        ),
    ),
    (
        "signage", "北门限速、禁停标识褪色看不清",
        "北门进来的限速和禁止停车标识牌褪色看不清，车辆进小区速度很快，门口也经常乱停车。",
        None, "北门", "normal", None, ("", ""),
        (
            (("d", 88, "09:15"), "file"),
            (2, "ack", "handler"),
            (1, "start", "handler", "已联系物业"),
            (44, "resolve", "handler", "更换限速5公里、禁止停车标识牌4块，路面重新喷涂限速标识"),
            (30, "callback", "satisfied", ""),
        ),
    ),
    (
        "other", "4栋楼上住户空调外机滴水",
        "4栋3楼住户的空调冷凝水直接滴到2楼阳台，多次上门沟通没有结果，希望社区处理。",
        "4栋", "4栋2单元", "normal", "4栋2单元", ("钱女士", "19700000118"),
        (
            (("d", 58, "20:30"), "file"),
            (12, "ack", "handler"),
            (26, "reject", "branch", 1, "相邻住户之间的纠纷，不属于公共设施问题；已告知居民可申请社区人民调解"),
        ),
    ),
    (
        "greenery", "8栋前香樟树遮挡低层采光",
        "8栋前面的香樟树长得太高太密，1、2楼白天也要开灯，居民希望修剪。",
        "8栋", "8栋南侧绿化带", "normal", "8栋1单元", ("", ""),
        (
            (("d", 46, "11:00"), "file"),
            (3, "ack", "handler"),
            (30, "withdraw", "filer", "居民已与物业协商，物业同意入冬后统一修剪，居民申请撤回"),
        ),
    ),
    (
        "drainage", "3栋门口雨水篦子堵塞、下雨积水",
        "3栋单元门口的雨水篦子被落叶和泥沙堵死，一下雨门口积水到脚踝，老人出门要蹚水。",
        "3栋", "3栋单元门口", "normal", None, ("林奶奶", ""),
        (
            (("d", 9, "10:00"), "file"),
            (1, "ack", "handler"),
            (2, "start", "handler", "已通知物业清掏"),
            (26, "resolve", "handler", "物业清掏雨水篦子2处，疏通雨水管约20米"),
            (("h", 20), "callback", "unsatisfied", "上周末下大雨，3栋门口积水仍没过脚踝，居民认为管道没有真正疏通"),
            (("h", 8), "note", "handler", "已约管道检测车来做内窥检测，查找堵点"),
        ),
    ),
    (
        "lift", "12栋电梯频繁停运，本周两次困人",
        "12栋电梯这周停了三次，两次把人困在里面，一次困了一个多小时，楼里有不少老人和行动不便的住户。",
        "12栋", "12栋电梯", "urgent", "12栋2单元", ("罗先生", "19700000121"),
        (
            (("d", 4, "16:20"), "file"),
            (0.1, "escalate", "filer", "困人事件频发，请组长协调"),
            (0.4, "ack", "handler"),
            (0.5, "escalate", "handler", "电梯主机老化，需动用专项维修资金，请片长协调"),
            (1, "escalate", "zone", "电梯安全无小事，请社区协调物业和维保单位"),
            (0.5, "priority", "branch", "high"),
            (0.5, "assign", "branch", "property", 1, "责成普瑞物业与电梯维保单位立即检修"),
            (0.3, "accept"),
            (0.2, "update", "org", "维保单位已到场"),
            (18, "resolve", "org", "更换曳引机制动器和轿门门机，经特种设备检验机构检验合格，已恢复运行"),
        ),
    ),
    (
        "road", "8栋与9栋之间道路下沉开裂",
        "8栋和9栋之间的路面这个月明显下沉，裂缝越来越宽，最宽处能塞进手指，怀疑地下管道渗漏。",
        "8栋", "8栋与9栋之间道路", "normal", None, ("", ""),
        (
            (("h", 22), "file"),
            (0.1, "escalate", "filer", "疑似地下管道渗漏，需专业检测"),
            (1.5, "ack", "handler"),
            (1, "escalate", "handler", "需专业单位检测，请片长协调"),
            (2, "escalate", "zone", "存在塌陷风险，请社区协调专业单位检测"),
            (2.5, "priority", "branch", "high"),
            (0.5, "assign", "branch", "property", 7, "委托普瑞物业联系管道检测单位，先行设置围挡"),
            (1, "decline", "下沉路段在进出道路改造雨水管网迁改的施工范围内，应由开发商负责检测修复"),
            (1, "assign", "branch", "developer", 10, "雨水管网迁改施工段，由开发商湘瑞置业负责检测修复"),
            (0.5, "accept"),
            (0.5, "update", "org", "已设置围挡和警示灯，管道检测单位明天进场"),
        ),
    ),
    (
        "cctv", "10栋2单元门禁对讲损坏",
        "10栋2单元门禁对讲机按了没反应，单元门关不上，外来人员随便进出。",
        "10栋", "10栋2单元", "normal", "10栋2单元", ("", ""),
        (
            (("d", 5, "09:20"), "file"),
            (2, "ack", "handler"),
            (1, "start", "handler", "已报物业维修"),
            (30, "resolve", "handler", "物业更换10栋2单元门禁主机及电控锁"),
        ),
    ),
    (
        "drainage", "10栋地下室雨后返水",
        "每次下大雨10栋地下室就返水，积水有二三十厘米，储藏室的东西都泡了，怀疑市政管网排水不畅。",
        "10栋", "10栋地下室", "normal", "10栋1单元", ("曹先生", "19700000124"),
        (
            (("h", 26), "file"),
            (0.1, "escalate", "filer", "积水严重，请组长协调"),
            (1.5, "ack", "handler"),
            (1, "escalate", "handler", "需排查小区外市政管网，请片长协调"),
            (3, "escalate", "zone", "涉及市政排水，请社区协调"),
            (6, "escalate", "branch", "需改造市政排水管网，超出社区能力，请街道协调区水务局"),
            (("h", 6), "note", "street", "已联系区水务局，约定本周现场勘察"),
            (0.5, "assign", "street", "water", 14, "请区水务局勘察小区外市政排水管网，制定改造方案"),
        ),
    ),
    (
        "lighting", "12栋旁路灯不亮",
        "12栋西侧路灯从前天开始不亮，那一段路没有别的照明，晚上很黑。",
        "12栋", "12栋西侧", "normal", "12栋1单元", ("", ""),
        ((("h", 2), "file"),),
    ),
    (
        "road", "6栋停车场入口路面坑洼",
        "6栋地面停车场入口有两个大坑，车进出时底盘容易刮到，下雨积水。",
        "6栋", "6栋停车场入口", "normal", None, ("", ""),
        (
            (("h", 16), "file"),
            (2, "ack", "handler", "已通知物业查看"),
            (1, "assign", "branch", "property", 3, "请物业尽快修补停车场入口的坑洼"),
        ),
    ),
    (
        "lift", "11栋电梯按键失灵、轿厢照明不亮",
        "11栋电梯5楼、6楼按键按了没反应，轿厢顶灯也坏了一半，里面很暗。",
        "11栋", "11栋电梯", "normal", "11栋1单元", ("", ""),
        (
            (("h", 26), "file"),
            (1.5, "ack", "handler"),
            (2, "assign", "branch", "property", 3, "请物业督促电梯维保单位检修按键和轿厢照明"),
        ),
    ),
    (
        "sanitation", "2栋楼道堆放杂物堵塞通道",
        "2栋2单元楼道里堆了旧家具和纸箱，占了半个楼梯，既不好走也有火灾隐患。",
        "2栋", "2栋2单元楼道", "normal", None, ("", ""),
        ((("h", 5), "file"),),
    ),
    (
        "signage", "小区缺少平面导视图",
        "小区没有平面导视图，来访的亲友、维修师傅经常找不到楼栋，希望在大门口设置。",
        None, "南门、北门", "normal", None, ("", ""),
        (
            (("d", 6, "10:40"), "file"),
            (3, "ack", "handler"),
            (2, "start", "handler", "已与物业确定导视牌样式"),
            (50, "resolve", "handler", "在南门、北门各新设小区平面导视牌1块"),
        ),
    ),
    (
        "fire", "9栋楼道灭火器过期",
        "9栋各层楼道的灭火器压力表指针都在红区，标签显示已过期两年。",
        "9栋", "9栋各层楼道", "normal", "9栋1单元", ("", ""),
        (
            (("d", 4, "15:00"), "file"),
            (1.5, "ack", "handler"),
            (0.5, "assign", "branch", "property", 3, "请物业更换9栋楼道过期灭火器"),
            (1, "accept"),
            (20, "resolve", "org", "更换9栋楼道灭火器14具，并建立每月巡检记录"),
        ),
    ),
    (
        "parking", "北门外车辆占用人行道停放",
        "北门外人行道上每天停满车，行人只能走机动车道，接送孩子很危险。",
        None, "北门外人行道", "normal", None, ("", ""),
        (
            (("h", 24), "file"),
            (2, "ack", "handler"),
            (3, "start", "handler", "已与物业、城管沟通，拟施划停车位并设置隔离桩"),
        ),
    ),
)  # fmt: skip


DAY_STARTS, DAY_ENDS = 8 * HOUR, 22 * HOUR  # leaders act between these Beijing clock times


def _local(moment: int) -> int:
    """Seconds since Beijing midnight."""
    return (moment + CHINA_OFFSET) % DAY


def _daytime(moment: int) -> int:
    """The moment, or the next morning at the same minute if it falls in the night."""
    local = _local(moment)
    if local >= DAY_ENDS:
        return moment + DAY - local + DAY_STARTS + local % HOUR
    if local < DAY_STARTS:
        return moment + DAY_STARTS - local + local % HOUR
    return moment


def _working_back(now: int, hours: float) -> int:
    """`hours` of daytime before now, skipping nights: a recent step is always in the day."""
    moment, left = now, round(hours * HOUR)
    local = _local(moment)
    if local >= DAY_ENDS:
        moment -= local - DAY_ENDS
    elif local < DAY_STARTS:
        moment -= local + DAY - DAY_ENDS
    while True:
        available = _local(moment) - DAY_STARTS
        if left <= available:
            return moment - left
        left -= available
        moment -= available + DAY - DAY_ENDS + DAY_STARTS


def _working_after(moment: int, hours: float) -> int:
    """`hours` of daytime after a moment, skipping nights."""
    left = round(hours * HOUR)
    local = _local(moment)
    if local >= DAY_ENDS or local < DAY_STARTS:
        moment = _daytime(moment) - _local(moment) % HOUR
    while True:
        available = DAY_ENDS - _local(moment)
        if left < available:
            return moment + left
        left -= available
        moment += available + DAY - DAY_ENDS + DAY_STARTS


def _script_time(when, previous: int | None, recent: bool, now: int) -> tuple[int, bool]:
    """A step's time, and whether its chain now runs on the working clock.

    ("d", days, "HH:MM") is that Beijing clock time so many days before today; a number after it is
    that many hours later, moved to the next morning if it falls in the night. ("h", hours) is that
    many daytime hours before the load, and a number after it that many daytime hours later: what
    sits just before the load keeps its deadlines ahead of the load whatever the time of day it runs.
    """
    if isinstance(when, int | float):
        moment = _working_after(previous, when) if recent else _daytime(previous + round(when * HOUR))
    elif when[0] == "h":
        moment, recent = _working_back(now, when[1]), True
    else:
        today = (now + CHINA_OFFSET) // DAY * DAY - CHINA_OFFSET  # Beijing midnight, as UTC seconds
        hours, minutes = (int(part) for part in when[2].split(":"))
        moment, recent = today - when[1] * DAY + hours * HOUR + minutes * 60, False
    if previous is not None and moment <= previous:
        raise ValueError(f"demo script: step at {when} is not after the previous one")
    return moment, recent


STEP_STATUS = {"ack": "acknowledged", "start": "in_progress", "resolve": "resolved", "withdraw": "withdrawn"}
STEP_COMMENT = {"update": "public_update", "note": "internal_note", "comment": "comment"}


def pruisburg_lives(ctx: DemoContext, world: IssueWorld, nodes: dict[int, dict]) -> list[tuple[IssueLife, dict]]:
    """The 31 普瑞斯堡 issues, replayed: (life, the issue's fixed columns) in PRUISBURG_ISSUES order.

    Duplicates are replayed last, so the issue each is merged into has its whole life already.
    """
    rng = ctx.rng("pruisburg-issues")
    now = epoch(ctx.now)
    by_name = {nodes[i]["name"]: nodes[i] for ids in ctx.compound_neighbour_ids for i in ids}
    own = nodes[ctx.compound_neighbour_ids[0][0]]
    orgs = {
        "property": ctx.property_org_id,
        "developer": ctx.developer_org_id,
        "office": ctx.offices[ctx.street_id],
        "water": ctx.organisations["区水务局"],
    }
    result: list[tuple[IssueLife, dict] | None] = [None] * len(PRUISBURG_ISSUES)
    order = sorted(range(len(PRUISBURG_ISSUES)), key=lambda i: any(s[1] == "dup" for s in PRUISBURG_ISSUES[i][8]))
    for index in order:
        category, title, description, building, place, urgency, filed_in, resident, steps = PRUISBURG_ISSUES[index]
        node = by_name[filed_in] if filed_in else own
        holders = world.holders(node, ctx.district_id)
        life = IssueLife(world, rng, urgency, holders, holders[0], 0, node)
        at, recent = None, False
        for when, op, *args in steps:
            at, recent = _script_time(when, at, recent, now)
            if at > now:
                raise ValueError(f"demo script: {title} has a step after the load time")
            if op == "file":
                life.file(at)
            elif op == "reject":
                life.move(at, args[0], "rejected", args[2], reason=world.reasons[args[1]])
            elif op in STEP_STATUS:
                life.move(at, args[0], STEP_STATUS[op], *args[1:])
            elif op == "dup":
                life.move(at, args[0], "duplicate", args[2], duplicate_of=result[args[1]][0])
            elif op == "escalate":
                life.escalate(at, args[0], args[1])
            elif op == "assign":
                life.assign(at, args[0], orgs[args[1]], args[2], args[3])
            elif op == "accept":
                life.accept(at)
            elif op == "decline":
                life.decline(at, args[0])
            elif op == "priority":
                life.set_priority(at, args[0], args[1])
            elif op in STEP_COMMENT:
                life.comment(at, args[0], STEP_COMMENT[op], args[1])
            elif op == "callback":
                life.callback(at, args[0], args[1])
            else:
                raise ValueError(f"demo script: unknown step {op}")
        life.finish(now)
        fixed = {
            "category_id": world.categories[category],
            "title": title,
            "description": description,
            "compound_id": ctx.compound_id,
            "building_id": ctx.building_ids[building] if building else None,
            "place_detail": place,
            "resident_name": resident[0],
            "resident_phone": resident[1],
            **ancestors(node),
        }
        result[index] = (life, fixed)
    return result
